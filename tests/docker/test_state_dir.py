"""``--state-dir`` names the one state folder: ledger, digest key, journal and secret copies.

Runs the real CLI in a subprocess on the real daemon with ``$DOCKWRIGHT_STATE_DIR``
pointing elsewhere: everything that ``apply`` keeps must land in the folder the
option names, and ``history``/``down`` with the same option must find it there.
Neighbours: ``controller.cli`` (``_state_dir``), ``controller.desired.hostkey``.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.docker.test_cli_errors import dockwright
from tests.images import busybox_image

pytestmark = pytest.mark.docker


def test_every_state_file_goes_to_the_folder_named_by_state_dir(tmp_path: Path) -> None:
    project = f"dwt-{uuid.uuid4().hex[:8]}"
    specs, state, other = tmp_path / "specs", tmp_path / "state", tmp_path / "env-state"
    specs.mkdir()
    (specs / "token").write_text("s3cret-value\n")
    (specs / "a.toml").write_text(
        f'[container.{project}-web]\nimage = "{busybox_image()}"\n'
        'command = ["sleep", "3600"]\nstop_timeout = "1s"\n'
        'secrets = { token = { file = "token" } }\n')
    env = {"DOCKWRIGHT_STATE_DIR": str(other)}
    opts = ("-p", project, "--state-dir", str(state))
    try:
        proc = dockwright("apply", str(specs), *opts, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert (state / "hash-key").is_file() and (state / "journal.db").is_file()
        with (specs / "a.toml").open("a") as f:  # an in-place update: the ledger records it
            f.write('restart = "unless-stopped"\n')
        proc = dockwright("apply", str(specs), *opts, env=env)
        assert proc.returncode == 0 and "update" in proc.stdout, proc.stdout + proc.stderr
        ledgers = list((state / "ledger").glob(f"*{project}*"))
        assert ledgers, sorted(p.name for p in state.rglob("*"))
        assert any("s3cret-value" in p.read_text() for p in state.rglob("*")
                   if p.is_file() and "files" in p.parts), "the secret's copy"
        assert not other.exists() or not any(
            project in str(p) for p in other.rglob("*")), "nothing in $DOCKWRIGHT_STATE_DIR"
        history = dockwright("history", str(specs), *opts, env=env)
        assert history.returncode == 0 and f"{project}-web" in history.stdout, history.stdout
        diff = dockwright("diff", str(specs), *opts, env=env)
        assert diff.returncode == 0, diff.stdout + diff.stderr
    finally:
        down = dockwright("down", str(specs), *opts, env=env)
        assert down.returncode == 0, down.stderr
    assert os.environ.get("DOCKWRIGHT_STATE_DIR") != str(state)
