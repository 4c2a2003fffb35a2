"""Issue 9: labels are no guessing oracle for secrets.

The ``io.dockwright.files`` label and the spec hash of a container whose env comes from a
secret file and an env_file hold HMACs with the host key, never the plain sha256 of the
file or of the value (anyone who can list containers reads labels)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from .conftest import Project, loop_container

pytestmark = pytest.mark.docker


def test_labels_hold_no_plain_digest_of_a_secret(project: Project) -> None:
    p = project
    p.write("pass", "hunter2\n")
    p.write("app.env", "TOKEN=abc123\n")
    p.write("a.toml", loop_container(p.n("a"), env='{ PASS = { file = "pass" } }',
                                     env_file='["app.env"]'))
    p.apply_ok()
    labels = p.container("a").labels
    files = json.loads(labels["io.dockwright.files"])
    assert set(files) == {"secret:pass", "env_file:app.env"}
    assert all(v.startswith("k1:") for v in files.values()), files
    text = json.dumps(labels)
    for plain in (b"hunter2\n", b"hunter2", b"TOKEN=abc123\n", b"abc123"):
        assert hashlib.sha256(plain).hexdigest()[:32] not in text
    assert labels["io.dockwright.hash-scheme"] == "2"
    assert p.diff().code == 0
    p.write("pass", "changed\n")
    assert p.diff().code == 2, "a changed secret is still seen"


def test_a_lost_host_key_recreates_nothing(project: Project, tmp_path: Path) -> None:
    """The host key removed (or replaced): labels keyed with the old key cannot be checked,
    but the env the secret and env files produce is on the container: where it equals the
    spec's, the container is adopted (same id, not restarted), and a real change is still
    seen."""
    p = project
    state = {"DOCKWRIGHT_STATE_DIR": str(tmp_path / "state")}
    p.write("pass", "hunter2\n")
    p.write("app.env", "TOKEN=abc123\n")
    p.write("a.toml", loop_container(p.n("a"), env='{ PASS = { file = "pass" } }',
                                     env_file='["app.env"]'))
    first = p.cli_env("apply", state)
    assert first.code == 0, str(first)
    before = p.container("a").attrs
    (tmp_path / "state" / "hash-key").unlink()

    diff = p.cli_env("diff", state)
    assert diff.code == 0, str(diff)
    status = p.cli_env("status", state)
    assert status.code == 0 and "NOT in sync" not in status.out, str(status)
    again = p.cli_env("apply", state)
    assert again.code == 0, str(again)
    after = p.container("a").attrs
    assert after["Id"] == before["Id"], f"recreated:\n{again}"
    assert after["State"]["StartedAt"] == before["State"]["StartedAt"]
    assert (tmp_path / "state" / "hash-key").exists(), "a new key was made"
    assert p.cli_env("diff", state).code == 0

    p.write("pass", "changed\n")
    changed = p.cli_env("diff", state, "--output", "json")
    assert changed.code == 2, str(changed)
    fields = {c["field"] for a in json.loads(changed.out)["actions"] for c in a["changes"]}
    assert {"env.PASS", "secret[pass]"} <= fields, fields


def test_a_full_state_folder_fails_plainly_and_leaves_nothing(project: Project,
                                                              tmp_path: Path) -> None:
    """The host key cannot be written (the state folder's filesystem is full): the command
    fails naming the folder and the fix, leaves no half-written key file behind (a watch
    retrying would pile them up), and works once there is room again."""
    p = project
    full = tmp_path / "full"
    full.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(full)], check=True)
    try:
        filler = full / "filler"
        with filler.open("wb") as f, contextlib.suppress(OSError):
            f.write(b"\0" * 65536)
        p.write("pass", "hunter2\n")
        p.write("a.toml", loop_container(p.n("a"), env='{ PASS = { file = "pass" } }'))
        state = {"DOCKWRIGHT_STATE_DIR": str(full)}
        for _ in range(3):
            failed = p.cli_env("diff", state)
            assert failed.code == 1, str(failed)
            assert "No space left on device" in failed.err and str(full) in failed.err, \
                str(failed)
        assert sorted(x.name for x in full.iterdir()) == ["filler"], "nothing left behind"
        filler.unlink()
        works = p.cli_env("diff", state)
        assert works.code == 2, str(works)
        assert (full / "hash-key").stat().st_mode & 0o777 == 0o600
    finally:
        subprocess.run(["umount", "-l", str(full)], check=False)
