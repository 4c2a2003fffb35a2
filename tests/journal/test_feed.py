"""The watch service's notes: backoff and crash-loop changes between two passes.

Neighbours: ``controller.service.journalfeed.notes`` (pure), ``controller.service.backoff``
(the real snapshots it compares).
"""

from __future__ import annotations

from controller.execution.journal.values import Outcome
from controller.service.backoff import Backoff, CrashLoops
from controller.service.journalfeed import notes


def test_backoffs_and_crash_loops_are_noted_when_they_start_grow_and_end() -> None:
    now = [100.0]
    backoff, loops = Backoff(clock=lambda: now[0]), CrashLoops(clock=lambda: now[0])
    empty: dict[str, dict[str, object]] = {}
    for _ in range(3):
        loops.restarted("web")
    backoff.failure("web", "crash-looping")
    backoff.failure("project:shop", "OSError: boom")
    first = notes(backoff.snapshot(), loops.snapshot(), empty, empty)
    assert [(n.resource, n.object, n.action, n.outcome) for n in first] == [
        ("web", "container", "crash-loop", Outcome.CRASH_LOOP),
        ("shop", "project", "backoff", Outcome.BACKOFF),
        ("web", "container", "backoff", Outcome.BACKOFF)]
    assert first[2].retry_after == 1.0 and first[2].error == "crash-looping"
    before_b, before_l = backoff.snapshot(), loops.snapshot()
    assert notes(backoff.snapshot(), loops.snapshot(), before_b, before_l) == [], \
        "nothing changed: nothing noted (a resync every minute adds no entries)"
    backoff.failure("web", "crash-looping")
    grown = notes(backoff.snapshot(), loops.snapshot(), before_b, before_l)
    assert [(n.resource, n.retry_after) for n in grown] == [("web", 2.0)]
    before_b = backoff.snapshot()
    backoff.success("web")
    backoff.success("project:shop")
    now[0] += 120  # ran long enough without a restart
    loops.settle()
    ended = notes(backoff.snapshot(), loops.snapshot(), before_b, before_l)
    assert {(n.resource, n.action, n.outcome) for n in ended} == {
        ("web", "crash-loop", Outcome.RESOLVED), ("web", "backoff", Outcome.RESOLVED),
        ("shop", "backoff", Outcome.RESOLVED)}
