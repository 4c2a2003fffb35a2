"""Fault campaign: the state folder on a full filesystem, the spec directory swapped and removed.

The state folder (``DOCKWRIGHT_STATE_DIR``: journal, host key, caches) is a
tiny tmpfs filled up before a pass: the pass still converges the containers
(a journal problem is reported, not fatal) and, once space is back, the next
pass converges too. The spec directory watched by ``watch`` is a symlink
swapped atomically to a new target (``ln -sfn`` + ``mv -T``), then its target
is removed and made again with an edit: each time the running watch deploys
what the link now shows, and a vanished directory removes nothing.
Neighbours: ``tests/faults/harness.py``, ``test_kills.py``.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.conftest import wait_for
from tests.faults.harness import Bench, Gap, row

pytestmark = pytest.mark.docker


@contextlib.contextmanager
def _tiny_tmpfs(path: Path) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(path)],
                   check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(folder: Path) -> Path:
    """Fill ``folder``'s filesystem; the file that did it."""
    filler = folder / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    with contextlib.suppress(OSError), (folder / "filler2").open("wb") as out:  # a last block
        while True:
            out.write(b"\0" * 512)
            out.flush()
    return filler


def _fault_on_full_state(b: Bench, case: str, state: Path, fresh: bool) -> None:
    kind = "state folder on a full filesystem"
    if fresh:  # the state folder made on a full filesystem: no journal, no host key yet
        for entry in state.iterdir():
            if entry.name not in ("filler", "filler2"):
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    b.write("web", "api")
    with Gap(b.daemon, b.project, "web") as gap:
        full = b.cli("apply", str(b.dir))
        left = b.states()
        (state / "filler").unlink()
        (state / "filler2").unlink(missing_ok=True)
        recovery = b.cli("apply", str(b.dir))
    wrong = []
    if full.code != 0:
        wrong.append(f"the pass on a full state folder: exit {full.code}: {full.text[-600:]}")
    if set(left) != {"web", "api"} or set(left.values()) != {"running"}:
        wrong.append(f"after the pass on a full state folder: {left}")
    b.outcome(kind, case, gap.longest, recovery, wrong=wrong)


def test_state_folder_on_a_full_filesystem(bench: Bench, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    b = bench
    with _tiny_tmpfs(tmp_path / "state") as state:
        monkeypatch.setenv("DOCKWRIGHT_STATE_DIR", str(state))
        b.write()
        first = b.cli("apply", str(b.dir))
        assert first.code == 0, str(first)
        b.seed()
        _fill(state)
        _fault_on_full_state(b, "full before a recreate", state, fresh=False)
        _fill(state)
        _fault_on_full_state(b, "full and empty (no journal, no key) before a recreate", state,
                             fresh=True)
    kind = "state folder on a full filesystem"
    assert not row(kind).failures, "\n".join(row(kind).failures)


def _swap(link: Path, target: Path) -> None:
    tmp = link.with_name(link.name + ".new")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    subprocess.run(["mv", "-T", str(tmp), str(link)], check=True)


def _deployed(b: Bench, link: Path) -> bool:
    states = b.states()
    if set(states) != {"web", "api"} or set(states.values()) != {"running"}:
        return False
    try:
        code, out = b.exec("web", 'echo "$V"')
    except docker.errors.APIError:  # the watch is replacing it right now
        return False
    return code == 0 and out.strip() == str(b.versions["web"]) and \
        b.cli("diff", str(link)).code == 0


def test_spec_directory_swapped_removed_and_restored_under_watch(bench: Bench,
                                                                  tmp_path: Path) -> None:
    b, kind = bench, "spec directory swapped / removed (watch)"
    b.dir = tmp_path / "rev-1"
    b.write()
    link = tmp_path / "live"
    _swap(link, b.dir)
    first = b.cli("apply", str(link))
    assert first.code == 0, str(first)
    b.seed()
    b.proxy.arm(None)
    watch = b.start_cli("watch", str(link), "--resync", "0")
    try:
        time.sleep(2)  # the watch's first pass (nothing to do) and its file watch armed
        for case in ("swapped to a new revision", "removed, then made again with an edit"):
            with Gap(b.daemon, b.project, "web") as gap:
                if case.startswith("swapped"):
                    old = b.dir
                    b.dir = tmp_path / "rev-2"
                    b.write("web")
                    _swap(link, b.dir)
                    (old / "app.toml").write_text("# the detached old revision, edited\n")
                else:
                    shutil.rmtree(b.dir)
                    time.sleep(1.5)
                    left = b.states()
                    b.dir.mkdir()
                    b.write("web")
                done = True
                try:
                    wait_for(lambda: _deployed(b, link), f"watch to deploy: {case}", timeout=60)
                except pytest.fail.Exception:
                    done = False
            recovery = b.cli("diff", str(link))
            log = (b.daemon.base / "cli.log").read_text(errors="replace")[-3000:]
            wrong = [] if done else [f"the watch never deployed what the link shows: {log}"]
            if case.startswith("removed") and set(left) != {"web", "api"}:
                wrong.append(f"a vanished spec directory removed containers: {left}")
            b.outcome(kind, case, gap.longest, recovery, wrong=wrong)
        assert watch.poll() is None, "the watch exited"
    finally:
        watch.kill()
        watch.wait(30)
    assert not row(kind).failures, "\n".join(row(kind).failures)
