"""Fault campaign on the native runtime: ``apply`` SIGKILLed during a recreate and a ``down``.

The native runtime has no daemon socket to count requests on, so the kill
points are time offsets into the pass (``DW_FAULT_POINTS`` of them, spread
over the length of one unkilled pass). Each case: a container ``web`` with a
named volume ``/data`` and an anonymous one ``/anon`` holding checksum files,
its env changed (a stop-first recreate) or the project taken ``down``, the
real ``dockwright --runtime native apply`` / ``down`` killed at the offset,
then a plain ``apply``. After each: it exits 0 and ``diff`` exits 0, exactly
one ``web`` exists and runs (no ``*_dw-old-*`` copy, nothing left created or
exited), and both checksum files still match. The longest time with no
``web`` running is measured by polling the runtime's records every 50 ms.
Neighbours: ``tests/faults/harness.py`` (the table's rows),
``tests/native/conftest.py`` (the busybox archive), ``runtime.native``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.native.driver import NativeDriver
from runtime.types import LABEL_PROJECT, State
from tests.faults.harness import LOOP, POINTS, Downtime, row
from tests.images import BUSYBOX
from tests.integration.conftest import ROOT, Run, run_cli
from tests.native.conftest import busybox_archive

pytestmark = pytest.mark.native
__all__ = ["busybox_archive"]  # the fixture this module uses


class NativeBench:
    """A spec directory, a state folder and the CLI on the native runtime."""

    def __init__(self, root: Path, archive: Path) -> None:
        self.project = f"dwt-{uuid.uuid4().hex[:8]}"
        self.dir, self.state = root / "specs", root / "state"
        self.dir.mkdir()
        self.archive = archive
        self.driver = NativeDriver(state_dir=self.state)
        self.web = f"{self.project}-web"

    def write(self, value: str) -> None:
        (self.dir / "web.toml").write_text(
            f'[project]\nname = "{self.project}"\nallow_host_paths = ["{self.archive.parent}"]\n'
            f"[volume.data]\n"
            f"[container.{self.web}]\n"
            f'image = {{ ref = "{BUSYBOX}", archive = "{self.archive}" }}\n'
            f"command = {LOOP}\n"
            f'stop_timeout = "1s"\n'
            f'volumes = ["data:/data", "/anon"]\n'
            f'env = {{ V = "{value}" }}\n')

    def args(self, *command: str) -> list[str]:
        return ["--runtime", "native", "--state-dir", str(self.state), *command, str(self.dir)]

    def cli(self, *command: str) -> Run:
        return run_cli(self.args(*command))

    def start_cli(self, *command: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        return subprocess.Popen([sys.executable, "-m", "controller.cli", *self.args(*command)],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)

    def states(self) -> dict[str, State]:
        return {c.name.lstrip("/"): c.state
                for c in self.driver.list_containers(labels={LABEL_PROJECT: self.project})}

    def seed(self) -> None:
        script = "echo data > /data/f && echo anon > /anon/f"
        assert self.driver.exec_in(self.web, ["sh", "-c", script]).exit_code == 0

    def sums_kept(self, paths: tuple[str, ...]) -> int:
        kept = 0
        for path in paths:
            out = self.driver.exec_in(self.web, ["cat", f"{path}/f"]).output
            kept += out.strip() == path.strip("/").encode()
        return kept


def downtime(bench: NativeBench) -> Downtime:
    """The longest time with no running ``web`` (a record being written when read counts
    as the last answer, not as down)."""
    last = [True]

    def up() -> bool:
        with contextlib.suppress(Exception):  # a record read while it is being written
            last[0] = bench.states().get(bench.web) is State.RUNNING
        return last[0]

    return Downtime(up)


@pytest.fixture
def nbench(tmp_path: Path, busybox_archive: Path) -> Iterator[NativeBench]:
    b = NativeBench(tmp_path, busybox_archive)
    try:
        yield b
    finally:
        b.cli("down", "--volumes")
        b.driver.close()


def _offsets(duration: float) -> list[float]:
    """``POINTS`` kill times spread over a pass that took ``duration`` seconds."""
    n = max(POINTS, 1)
    return [round(duration * (i + 1) / (n + 1), 3) for i in range(n)]


def _killed_after(b: NativeBench, delay: float, *command: str) -> None:
    proc = b.start_cli(*command)
    time.sleep(delay)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)


def _check(b: NativeBench, kind: str, case: str, gap: float, recovery: Run,
           sums: tuple[str, ...] = ("/data", "/anon")) -> None:
    r = row(kind)
    r.injected += 1
    r.max_gap = max(r.max_gap, gap)
    wrong = []
    if recovery.code != 0:
        wrong.append(f"recovery pass: exit {recovery.code}: {recovery.text[-600:]}")
    diff = b.cli("diff")
    if diff.code != 0:
        wrong.append(f"diff after recovery: exit {diff.code}: {diff.out[-400:]}")
    states = b.states()
    if states != {b.web: State.RUNNING}:
        wrong.append(f"containers after recovery: {states}")
    else:
        r.sums_checked += len(sums)
        kept = b.sums_kept(sums)
        r.sums_kept += kept
        if kept != len(sums):
            wrong.append(f"checksums kept {kept}/{len(sums)}")
    if wrong:
        r.failures.append(f"{case}: " + "; ".join(wrong))
    else:
        r.survived += 1


def test_native_apply_killed_during_a_recreate(nbench: NativeBench) -> None:
    b, kind = nbench, "native: apply killed: recreate"
    b.write("0")
    assert b.cli("apply").code == 0
    b.seed()
    b.write("1")
    started = time.monotonic()
    assert b.cli("apply").code == 0  # one unkilled recreate: how long a pass takes
    duration = time.monotonic() - started
    for i, delay in enumerate(_offsets(duration), start=2):
        b.write(str(i))
        with downtime(b) as gap:
            _killed_after(b, delay, "apply")
            recovery = b.cli("apply")
        _check(b, kind, f"killed {delay:.2f}s into a {duration:.2f}s recreate", gap.longest,
               recovery)
    assert not row(kind).failures, "\n".join(row(kind).failures)
    assert row(kind).injected > 0


def test_native_down_killed(nbench: NativeBench) -> None:
    b, kind = nbench, "native: down killed"
    b.write("0")
    assert b.cli("apply").code == 0
    b.seed()
    started = time.monotonic()
    assert b.cli("down").code == 0  # one unkilled down (volumes kept)
    duration = time.monotonic() - started
    assert b.cli("apply").code == 0
    assert b.sums_kept(("/data",)) == 1, "the named volume outlives down"
    for delay in _offsets(duration):
        _killed_after(b, delay, "down")
        recovery = b.cli("apply")
        # a down that got through removed the container: its replacement has a new anonymous
        # volume (down keeps the old one), so only the named volume's data is checked
        _check(b, kind, f"killed {delay:.2f}s into a {duration:.2f}s down", 0.0, recovery,
               sums=("/data",))
    assert not row(kind).failures, "\n".join(row(kind).failures)
    assert row(kind).injected > 0
