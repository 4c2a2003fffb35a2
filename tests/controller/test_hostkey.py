"""The per-host digest key: created 0600 on first use in the state folder, then reused;
a damaged key is an error that says what to do."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from controller.desired import hostkey


def test_key_is_created_0600_once_and_reused(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKWRIGHT_STATE_DIR", str(tmp_path / "state"))
    digest = hostkey.keyed_digest(b"hunter2")
    path = tmp_path / "state" / hostkey.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert digest.startswith(hostkey.KEYED_PREFIX) and hostkey.is_keyed(digest)
    assert hashlib.sha256(b"hunter2").hexdigest()[:32] not in digest
    hostkey._KEY.clear()  # a new process reads the same key back
    assert hostkey.keyed_digest(b"hunter2") == digest
    assert list((tmp_path / "state").iterdir()) == [path], "no temporary file left behind"


def test_a_damaged_key_says_how_to_fix_it(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKWRIGHT_STATE_DIR", str(tmp_path))
    (tmp_path / hostkey.KEY_FILE).write_text("not hex")
    with pytest.raises(hostkey.HostKeyError, match="remove it"):
        hostkey.keyed_digest(b"x")
