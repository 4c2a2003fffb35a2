"""Fault campaign: ``apply``, ``watch`` and the daemon SIGKILLed at request N of a pass.

Each sweep first counts the Docker API requests of one unkilled pass of its
kind (create, stop-first recreate, start-first replace, ``down``), then, for
``DW_FAULT_POINTS`` request numbers spread over that pass (3 by default; a
larger value widens the sweep) and both kill modes (before the request
reaches the daemon; after the daemon answered it, before the CLI reads the
answer), kills the process at that request and runs a plain pass. After each:
the pass converges (exit 0, then ``diff`` exit 0), exactly ``web`` and ``api``
exist and run (no ``*_dw-old-*``, nothing ``Created``/``Dead``), and the
checksum files written into the named and anonymous volumes before the fault
still match. Neighbours: ``tests/faults/harness.py``, ``proxy.py``,
``test_environment.py``.
"""

from __future__ import annotations

import pytest

from tests.faults.harness import Bench, Gap, points, row

pytestmark = pytest.mark.docker

MODES = ("before", "after")


def _ready(b: Bench) -> None:
    b.write()
    first = b.cli("apply", str(b.dir))
    assert first.code == 0, str(first)
    b.seed()


def _sweep(b: Bench, kind: str, command: str, bump: tuple[str, ...], watched: str) -> None:
    b.write(*bump)
    total = b.count(command, str(b.dir))
    assert total > 0
    for n in points(total):
        for mode in MODES:
            b.write(*bump)
            with Gap(b.daemon, b.project, watched) as gap:
                fired = b.killed_at(n, mode, command, str(b.dir))
                recovery = b.cli("apply", str(b.dir))
            if fired:
                b.outcome(kind, f"{mode} request {n}/{total} {b.proxy.requests[-1:]}",
                          gap.longest, recovery)
    assert not row(kind).failures, "\n".join(row(kind).failures)
    assert row(kind).injected > 0


def test_apply_killed_during_a_stop_first_recreate(bench: Bench) -> None:
    _ready(bench)
    _sweep(bench, "apply killed: recreate (stop-first)", "apply", ("web",), "web")


def test_apply_killed_during_a_start_first_replace(bench: Bench) -> None:
    _ready(bench)
    _sweep(bench, "apply killed: replace (start-first)", "apply", ("api",), "api")


def test_watch_killed_during_a_recreate(bench: Bench) -> None:
    _ready(bench)
    _sweep(bench, "watch killed: recreate (both orders)", "watch", ("web", "api"), "web")


def test_apply_killed_during_a_create(bench: Bench) -> None:
    b, kind = bench, "apply killed: create"
    _ready(b)
    down = b.cli("down", str(b.dir))
    assert down.code == 0, str(down)
    total = b.count("apply", str(b.dir))
    for n in points(total):
        for mode in MODES:
            down = b.cli("down", str(b.dir))
            assert down.code == 0, str(down)
            fired = b.killed_at(n, mode, "apply", str(b.dir))
            recovery = b.cli("apply", str(b.dir))
            if fired:  # a new container has new anonymous volumes: the named one is checked
                b.outcome(kind, f"{mode} request {n}/{total}", 0.0, recovery, sums=("/data",))
    assert not row(kind).failures, "\n".join(row(kind).failures)
    assert row(kind).injected > 0


def test_down_killed(bench: Bench) -> None:
    b, kind = bench, "down killed"
    _ready(b)
    total = b.count("down", str(b.dir))
    for n in points(total):
        for mode in MODES:
            up = b.cli("apply", str(b.dir))
            assert up.code == 0, str(up)
            fired = b.killed_at(n, mode, "down", str(b.dir))
            again = b.cli("down", str(b.dir))
            left = b.states()
            wrong = [f"left after the next down: {left}"] if left else []
            recovery = b.cli("apply", str(b.dir)) if again.code == 0 else again
            if fired:
                b.outcome(kind, f"{mode} request {n}/{total}", 0.0, recovery, sums=("/data",),
                          wrong=wrong)
    assert not row(kind).failures, "\n".join(row(kind).failures)
    assert row(kind).injected > 0


def test_daemon_killed_during_a_recreate(bench: Bench) -> None:
    b, kind = bench, "dockerd killed: recreate"
    _ready(b)
    b.write("web", "api")
    total = b.count("apply", str(b.dir))
    for n in points(total):
        b.write("web", "api")
        with Gap(b.daemon, b.project, "web") as gap:
            b.proxy.arm(n, "after", b.daemon.kill)
            proc = b.start_cli("apply", str(b.dir))
            proc.wait(180)
            fired = b.proxy.fired
            if b.daemon.proc is None:
                b.daemon.start()
            recovery = b.cli("apply", str(b.dir))
        if fired:
            b.outcome(kind, f"after request {n}/{total} {b.proxy.requests[-1:]}",
                      gap.longest, recovery)
    assert not row(kind).failures, "\n".join(row(kind).failures)
    assert row(kind).injected > 0
