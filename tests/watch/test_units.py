"""Unit tests of the watch service's own parts (no Docker): queue, backoff,
crash loops, metrics text, the project lock, the spec-dir debounce, and the
git source against a real local bare repository.

Neighbours: ``controller.service.queue``, ``controller.service.backoff``,
``controller.service.metrics``,
``controller.service.lock``, ``controller.service.triggers``, ``controller.service.gitsource``; the
service as a whole is tested in ``test_service.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from controller.errors import LockHeld
from controller.execution.result import (
    ActionResult,
    ErrorKind,
    Failure,
    PassResult,
    ResourceFailure,
    Trigger,
)
from controller.planning.actions import Action, Cause, Kind, Plan
from controller.service.backoff import Backoff, CrashLoops
from controller.service.gitsource import GitSource
from controller.service.lock import lock_path, project_lock
from controller.service.metrics import WatchMetrics
from controller.service.queue import ShutDown, WorkQueue
from controller.service.triggers import Debouncer, SpecWatcher, ignored
from tests.watch.helpers import parse_prometheus


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_queue_coalesces_and_requeues_dirty_keys() -> None:
    q = WorkQueue()
    for _ in range(5):
        q.add("p")
    assert q.depth() == 1
    assert q.get(timeout=1) == "p"
    assert q.get(timeout=0.05) is None  # coalesced: ran once
    q.add("p")  # added while processing: runs once more after done()
    q.add("p")
    assert q.depth() == 0
    q.done("p")
    assert q.get(timeout=1) == "p"
    q.done("p")
    assert q.get(timeout=0.05) is None


def test_queue_add_after_and_shutdown() -> None:
    q = WorkQueue()
    q.add_after("p", 0.2)
    assert q.get(timeout=0.05) is None
    assert q.delayed() == 1
    assert q.get(timeout=2) == "p"
    q.done("p")
    results: list[object] = []

    def worker() -> None:
        try:
            q.get()
        except ShutDown as exc:
            results.append(exc)

    t = threading.Thread(target=worker)
    t.start()
    q.shutdown()
    t.join(2)
    assert results and isinstance(results[0], ShutDown)


def test_backoff_doubles_caps_and_resets() -> None:
    clock = FakeClock()
    b = Backoff(clock=clock)
    delays = [b.failure("web", "boom") for _ in range(12)]
    assert delays[:4] == [1.0, 2.0, 4.0, 8.0]
    assert delays[-1] == 300.0
    assert b.active() == {"web"}
    clock.now += 301
    assert b.active() == frozenset()
    assert b.known() == {"web"}
    assert b.snapshot()["web"]["failures"] == 12
    assert b.success("web") is True
    assert b.known() == frozenset()
    assert b.failure("web", "again") == 1.0


def test_crash_loop_detected_sticky_and_cleared_when_stable() -> None:
    clock = FakeClock()
    c = CrashLoops(threshold=3, window=60, stable_after=30, clock=clock)
    assert c.restarted("web") is False
    clock.now += 1
    assert c.restarted("web") is False
    clock.now += 1
    assert c.restarted("web") is True
    clock.now += 120  # older than the window, but still looping: sticky
    assert c.settle() == ["web"]  # no restart for > stable_after: cleared
    assert c.looping() == frozenset()
    assert c.restarted("web") is False
    clock.now += 1
    c.restarted("web")
    clock.now += 1
    assert c.restarted("web") is True
    clock.now += 10
    assert c.settle() == []
    assert c.restarted("web") is True  # a restart long after still counts as looping
    assert c.snapshot()["web"]["restarts_total"] == 7


def _pass(*outcomes: ActionResult, failures: tuple[ResourceFailure, ...] = ()) -> PassResult:
    return PassResult("r1", "p", None, Plan("p", actions=tuple(o.action for o in outcomes)),
                      triggers=frozenset({Trigger.RUNTIME_EVENT}), outcomes=outcomes,
                      failures=failures, duration=0.2)


def _did(kind: Kind, cause: Cause, failure: Failure | None = None) -> ActionResult:
    action = Action(f"container:{kind}", kind, "container", "web", "web", "", cause=cause)
    return ActionResult(action, kind, cause, (), failure, 0.1)


def test_metrics_count_typed_pass_results_per_service_registry() -> None:
    m, other = WatchMetrics(), WatchMetrics()  # one registry each: no clash, no sharing
    m.record(_pass(_did(Kind.START, Cause.DRIFT), _did(Kind.NOOP, Cause.NONE)))
    lost = Failure(ErrorKind.TRANSIENT, "recreate container web: daemon busy", retry_after=2)
    m.record(_pass(_did(Kind.RECREATE, Cause.SPEC), _did(Kind.CREATE, Cause.NEW, lost),
                   failures=(ResourceFailure("web", lost),)))
    m.queue_depth.set_function(lambda: 3.0)
    m.count_resources(lambda: [("running", 2.0)])
    body, content_type = m.exposition(None)
    assert content_type.startswith("text/plain") and "version=" in content_type
    samples = parse_prometheus(body.decode())
    assert samples[("dockwright_passes_total", (("result", "changed"),))] == 1
    assert samples[("dockwright_passes_total", (("result", "error"),))] == 1
    assert samples[("dockwright_actions_total", (("kind", "start"), ("result", "ok")))] == 1
    assert samples[("dockwright_actions_total", (("kind", "create"), ("result", "error")))] == 1
    assert ("dockwright_actions_total", (("kind", "noop"), ("result", "ok"))) not in samples
    assert samples[("dockwright_changes_total", (("cause", "drift"),))] == 1
    assert samples[("dockwright_changes_total", (("cause", "spec"),))] == 1
    assert samples[("dockwright_drift_corrections_total", ())] == 1
    assert samples[("dockwright_errors_total", (("kind", "action"),))] == 1
    assert samples[("dockwright_queue_depth", ())] == 3
    assert samples[("dockwright_pass_duration_seconds_bucket", (("le", "0.25"),))] == 2
    assert samples[("dockwright_pass_duration_seconds_bucket", (("le", "0.1"),))] == 0
    assert samples[("dockwright_pass_duration_seconds_count", ())] == 2
    assert samples[("dockwright_resources", (("state", "running"),))] == 2
    assert not any(name.endswith("_created") for name, _ in samples)
    untouched = parse_prometheus(other.exposition(None)[0].decode())
    assert ("dockwright_passes_total", (("result", "changed"),)) not in untouched
    assert untouched[("dockwright_drift_corrections_total", ())] == 0
    body, content_type = m.exposition("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.decode().rstrip().endswith("# EOF")


def test_lock_refuses_second_holder_naming_it_and_waits(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKWRIGHT_LOCK_DIR", str(tmp_path))
    with project_lock("dwt-lock", wait=False, purpose="watch") as held:
        assert json.loads(lock_path("dwt-lock").read_text())["pid"] == os.getpid()
        with pytest.raises(LockHeld) as info, project_lock("dwt-lock", wait=False,
                                                           purpose="apply"):
            pass
        assert f"pid {os.getpid()}" in str(info.value) and "--wait-lock" in str(info.value)
        assert held["purpose"] == "watch"
        acquired = threading.Event()
        waited: list[dict[str, object]] = []

        def waiter() -> None:
            with project_lock("dwt-lock", wait=True, purpose="apply", on_wait=waited.append):
                acquired.set()

        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.3)
        assert not acquired.is_set()
    t.join(5)
    assert acquired.is_set() and waited and waited[0]["purpose"] == "watch"


def test_lock_wait_can_be_cancelled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKWRIGHT_LOCK_DIR", str(tmp_path))
    cancel = threading.Event()
    errors: list[LockHeld] = []

    def waiter() -> None:
        try:
            with project_lock("dwt-lock", wait=True, purpose="apply", cancel=cancel):
                pass
        except LockHeld as exc:
            errors.append(exc)

    with project_lock("dwt-lock", wait=False, purpose="watch"):
        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.3)
        cancel.set()
        t.join(5)
    assert not t.is_alive() and errors and "stopped while waiting" in str(errors[0])


def test_ignored_paths(tmp_path: Path) -> None:
    assert ignored(str(tmp_path / "a.toml"), tmp_path) is False
    assert ignored(str(tmp_path / ".env"), tmp_path) is False
    assert ignored(str(tmp_path / "sub" / ".env"), tmp_path) is True
    for name in (".a.toml.swp", "a.toml~", "4913", "#a.toml#", ".git/index", "x/.hidden/a.toml"):
        assert ignored(str(tmp_path / name), tmp_path) is True, name


def test_debouncer_gives_one_fire_per_burst() -> None:
    fired: list[float] = []
    d = Debouncer(lambda: fired.append(time.monotonic()), quiet=0.1, cap=5)
    for _ in range(10):
        d.poke()
        time.sleep(0.02)
    deadline = time.monotonic() + 3
    while not fired and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    d.stop()
    assert len(fired) == 1


def test_spec_watcher_debounces_a_burst_of_real_saves(tmp_path: Path) -> None:
    fired: list[str] = []
    w = SpecWatcher(tmp_path, fired.append, quiet=0.15)
    w.start()
    try:
        for i in range(20):  # an editor's save dance, then a checkout's burst
            (tmp_path / f"f{i % 4}.toml").write_text(f"# {i}\n")
            (tmp_path / f".f{i % 4}.toml.swp").write_text("x")
        deadline = time.monotonic() + 5
        while not fired and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)
        assert fired == ["files"]
        (tmp_path / ".hidden.toml").write_text("x")  # hidden only: no pass
        (tmp_path / "a.toml~").write_text("x")
        time.sleep(0.5)
        assert fired == ["files"]
    finally:
        w.stop()


def _git(cwd: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@x", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@x")
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


def test_git_source_follows_branch_and_keeps_last_good(tmp_path: Path) -> None:
    bare, work = tmp_path / "origin.git", tmp_path / "work"
    subprocess.run(["git", "init", "--bare", "-q", "-b", "main", str(bare)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "specs").mkdir()
    (work / "specs" / "a.toml").write_text("# one\n")
    _git(work, "add", ".")
    _git(work, "commit", "-qm", "one")
    _git(work, "push", "-q", f"file://{bare}", "main")
    first = _git(work, "rev-parse", "HEAD")
    sources: list[str] = []
    src = GitSource(f"file://{bare}", branch="main", path="specs", interval=60,
                    cache_dir=tmp_path / "cache", enqueue=sources.append)
    assert src.sync() == first and src.revision == first
    assert (src.spec_root / "a.toml").read_text() == "# one\n"
    assert sources == ["git"]
    assert src.sync() == first and sources == ["git"]  # no new revision: no pass
    (work / "specs" / "a.toml").write_text("# two\n")
    _git(work, "commit", "-qam", "two")
    _git(work, "push", "-q", f"file://{bare}", "main")
    second = _git(work, "rev-parse", "HEAD")
    (src.spec_root / "junk.toml").write_text("x")  # local edits are discarded
    assert src.sync() == second
    assert (src.spec_root / "a.toml").read_text() == "# two\n"
    assert not (src.spec_root / "junk.toml").exists()
    assert sources == ["git", "git"]
    broken = GitSource(f"file://{tmp_path}/missing.git", cache_dir=tmp_path / "cache2")
    assert broken.fetch_once() is False
    assert broken.revision is None and broken.failures == 1 and broken.last_error
    src.url = f"file://{tmp_path}/gone.git"  # fetch fails: last good revision stays
    assert src.fetch_once() is False
    assert src.revision == second and (src.spec_root / "a.toml").exists()
