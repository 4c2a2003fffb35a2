"""Issue 9: labels are no guessing oracle for secrets.

The ``io.dockwright.files`` label and the spec hash of a container whose env comes from a
secret file and an env_file hold HMACs with the host key, never the plain sha256 of the
file or of the value (anyone who can list containers reads labels)."""

from __future__ import annotations

import hashlib
import json

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
