"""The shared file helpers: atomic writes (``dwutil.atomic``) and the lock (``dwutil.lock``).

Crash safety is shown with real failures, not mocks: a write into a folder that
cannot take a new file, a write whose target cannot be replaced (it is a
non-empty folder), a process killed while it holds a lock. Exclusivity is shown
across processes: a child holding the lock keeps the parent out until it exits.
Neighbours: the users of the helpers (``controller.planning.ledger``,
``controller.service.lock``, ``specs.cache``, ``runtime.native.records``,
``runtime.native.images``, ``runtime.native.net.store``).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dwutil.atomic import WriteError, write_atomic
from dwutil.lock import LockBusy, LockError, locked

ROOT = Path(__file__).resolve().parent.parent
HOLD = ("import sys, time; from pathlib import Path; from dwutil.lock import locked\n"
        "with locked(Path(sys.argv[1])):\n"
        "    print('held', flush=True); sys.stdin.readline()\n")


def test_write_replaces_whole_with_the_given_mode(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    target.write_text("old")
    write_atomic(target, "new", mode=0o640)
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640 & ~_umask()
    write_atomic(target, b"\x00bytes", mode=0o600)
    assert target.read_bytes() == b"\x00bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]


def test_a_failed_replace_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "state"
    target.mkdir()
    (target / "kept").write_text("old")  # a non-empty folder cannot be replaced by a file
    with pytest.raises(WriteError, match=f"cannot write {target}") as caught:
        write_atomic(target, "new", mode=0o600)
    assert isinstance(caught.value.__cause__, OSError)
    assert (target / "kept").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]


def test_a_folder_that_takes_no_file_fails_clearly(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "f"
    with pytest.raises(WriteError, match=r"cannot write .*missing/f") as caught:
        write_atomic(target, "x", mode=0o600)
    assert isinstance(caught.value.__cause__, FileNotFoundError)


def test_the_lock_is_exclusive_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "locks" / "a.lock"
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], cwd=ROOT, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.stdout is not None and child.stdin is not None
    try:
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(LockBusy, match="locked by another holder"), \
                locked(path, blocking=False):
            pass
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.wait(30) == 0
    finally:
        child.kill()
        child.wait()
    with locked(path, blocking=False) as fd:  # released when its holder ended
        assert fd >= 0


def test_a_killed_holder_releases_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "b.lock"
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], cwd=ROOT, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held"
    child.kill()
    child.wait()
    with locked(path, blocking=False):
        pass


def test_reentrant_within_a_thread_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "c.lock"
    with locked(path, reentrant=True), locked(path, reentrant=True) as inner:
        assert inner == -1
    # a second descriptor is another holder, even in the same thread
    with locked(path), pytest.raises(LockBusy), locked(path, blocking=False):
        pass


def test_an_unopenable_lock_file_fails_clearly(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(LockError, match="cannot open lock file"), \
            locked(blocker / "x.lock"):
        pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
