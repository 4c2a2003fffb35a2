"""The watch service in-process: the real ``WatchService`` in its own threads against the
real Docker daemon, asserting on the typed pass results it produces
(``controller.execution.result.PassResult``) and on captured structlog events, never on
message text.

Covered: a container removed by hand is put back with cause DRIFT; a spec edit recreates
with cause SPEC and names the field; a crash-looping container is detected and backed
off with doubling delays; a resource whose start fails (host port held) backs off
1 s, 2 s ... and converges once the port is free. Neighbours: ``controller.service.loop``
(what runs), ``controller.service.metrics`` (counts read from the same results);
``test_service.py`` runs the same service as a subprocess through the CLI.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from controller.execution.result import ActionResult, ErrorKind, PassResult, Trigger
from controller.planning.actions import Cause, Kind
from controller.service.loop import WatchConfig, WatchService
from runtime.docker.driver import DockerDriver
from tests.conftest import wait_for
from tests.watch.helpers import container_toml, get, parse_prometheus

pytestmark = pytest.mark.docker


class Running:
    """A started ``WatchService`` with every pass result and log event it produced."""

    def __init__(self, service: WatchService, logs: list[dict[str, Any]]) -> None:
        self.service, self.logs = service, logs
        self.results: list[PassResult] = []
        self._lock = threading.Lock()

    def passed(self, result: PassResult) -> None:
        with self._lock:
            self.results.append(result)

    def seen(self) -> int:
        with self._lock:
            return len(self.results)

    def wait_pass(self, what: str, pred: Callable[[PassResult], bool], *, since: int = 0,
                  timeout: float = 60.0) -> PassResult:
        """The first pass after the first ``since`` for which ``pred`` holds."""
        def find() -> PassResult | None:
            with self._lock:
                return next((r for r in self.results[since:] if pred(r)), None)

        return wait_for(find, what, timeout=timeout)

    def events(self, name: str, **fields: Any) -> list[dict[str, Any]]:
        return [e for e in list(self.logs) if e["event"] == name
                and all(e.get(k) == v for k, v in fields.items())]

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return parse_prometheus(self.service.metrics.exposition(None)[0].decode())


@pytest.fixture
def run_service(busybox_ref: str) -> Iterator[Callable[..., Running]]:
    """``run_service(root, project, resync=60.0)`` -> a started service (stopped at the end),
    its structlog events captured for the whole test."""
    started: list[WatchService] = []
    with structlog.testing.capture_logs() as logs:
        def start(root: Path, project: str, *, resync: float = 60.0) -> Running:
            config = WatchConfig(root=root, project=project, resync=resync, stop_timeout=20.0,
                                 debounce=0.1)
            service = WatchService(config, DockerDriver)
            running = Running(service, logs)
            service.on_pass = running.passed
            started.append(service)
            service.start()
            return running

        yield start
        for service in started:
            assert service.stop(), "the in-flight pass did not finish within the stop timeout"


def _for(result: PassResult, resource: str) -> ActionResult | None:
    return next((o for o in result.acted if o.resource == resource), None)


def _did(resource: str, *kinds: Kind, cause: Cause | None = None
         ) -> Callable[[PassResult], bool]:
    def pred(result: PassResult) -> bool:
        o = _for(result, resource)
        return o is not None and o.ok and o.kind in kinds and (cause is None or o.cause is cause)
    return pred


def test_container_removed_by_hand_is_put_back_as_drift(
        spec_dir: Path, project_name: str, dclient: Any,
        run_service: Callable[..., Running]) -> None:
    web = f"{project_name}-web"
    (spec_dir / "web.toml").write_text(container_toml(web))
    svc = run_service(spec_dir, project_name, resync=3.0)
    first = svc.wait_pass("web created", _did(web, Kind.CREATE))
    created = _for(first, web)
    assert created is not None and created.cause is Cause.NEW
    assert Trigger.START in first.triggers
    assert svc.metrics()[("dockwright_drift_corrections_total", ())] == 0
    old = wait_for(lambda: (c := get(dclient, web)) and c.status == "running" and c, "web up")

    mark = svc.seen()
    old.remove(force=True)  # `docker rm -f`
    # a pass that lists it while Docker removes it recreates it ("gone while it was
    # observed"); one that no longer lists it creates it: either way, drift
    healed = svc.wait_pass("web put back", _did(web, Kind.CREATE, Kind.RECREATE), since=mark)
    outcome = _for(healed, web)
    assert outcome is not None and outcome.cause is Cause.DRIFT and outcome.drift
    assert healed.triggers & {Trigger.RUNTIME_EVENT, Trigger.RESYNC}
    assert Trigger.SPEC_EDIT not in healed.triggers and healed.ok and healed.changed
    new = wait_for(lambda: (c := get(dclient, web)) and c.status == "running" and c,
                   "web running again")
    assert new.id != old.id
    drift = svc.events("drift_corrected", resource=web)
    assert [(e["reconcile_id"], e["cause"]) for e in drift] == [(healed.reconcile_id, "drift")]
    assert drift[0]["action"] in ("create", "recreate")
    action = svc.events("action", resource=web, reconcile_id=healed.reconcile_id)
    assert [(e["cause"], e["ok"]) for e in action] == [("drift", True)]
    samples = svc.metrics()
    assert samples[("dockwright_drift_corrections_total", ())] == 1
    assert samples[("dockwright_changes_total", (("cause", "drift"),))] == 1


def test_spec_edit_is_a_spec_change_naming_the_field(
        spec_dir: Path, project_name: str, dclient: Any,
        run_service: Callable[..., Running]) -> None:
    web = f"{project_name}-web"
    (spec_dir / "web.toml").write_text(container_toml(web, env={"A": "1"}))
    svc = run_service(spec_dir, project_name)
    svc.wait_pass("web created", _did(web, Kind.CREATE))
    mark = svc.seen()
    spec_changes = svc.metrics().get(("dockwright_changes_total", (("cause", "spec"),)), 0)
    (spec_dir / "web.toml").write_text(container_toml(web, env={"A": "2"}))
    edited = svc.wait_pass("web recreated", _did(web, Kind.RECREATE), since=mark)
    outcome = _for(edited, web)
    assert outcome is not None and outcome.cause is Cause.SPEC and not outcome.drift
    assert [c.field for c in outcome.changes] == ["env.A"]
    assert (outcome.changes[0].old, outcome.changes[0].new) == ("1", "2")
    assert Trigger.SPEC_EDIT in edited.triggers and edited.changed and edited.ok
    assert not svc.events("drift_corrected")
    logged = svc.events("action", resource=web, reconcile_id=edited.reconcile_id)
    assert [(e["action"], e["cause"], e["changes"]) for e in logged] == [
        ("recreate", "spec", ["env.A"])]
    passes = svc.events("pass", reconcile_id=edited.reconcile_id)
    assert [p["triggers"] for p in passes] == [["files"]]
    c = wait_for(lambda: (c := get(dclient, web)) and c.status == "running" and c, "web up")
    assert "A=2" in c.attrs["Config"]["Env"]
    samples = svc.metrics()
    assert samples[("dockwright_changes_total", (("cause", "spec"),))] == spec_changes + 1
    assert ("dockwright_changes_total", (("cause", "drift"),)) not in samples


def test_crash_loop_is_detected_and_backed_off(
        spec_dir: Path, project_name: str, run_service: Callable[..., Running]) -> None:
    bad = f"{project_name}-crash"
    (spec_dir / "crash.toml").write_text(container_toml(bad, command='["sh", "-c", "exit 3"]'))
    svc = run_service(spec_dir, project_name)
    wait_for(lambda: svc.events("crash_loop", resource=bad), "a crash loop", timeout=60)
    restarts = [o for r in list(svc.results) if (o := _for(r, bad)) and o.kind is Kind.START]
    assert len(restarts) >= 3  # CrashLoops' threshold: restarts within the window
    assert all(o.cause is Cause.DRIFT and o.healed for o in restarts)
    assert bad in svc.service.crash_loops.looping()
    assert svc.service.backoff.snapshot()[bad]["reason"] == "crash-looping"
    # while it backs off, passes leave it alone and the delays double
    mark = svc.seen()
    skipped = svc.wait_pass("a pass that skips the looping container",
                            lambda r: _for(r, bad) is None and bad not in r.in_sync(),
                            since=mark)
    assert skipped.ok
    wait_for(lambda: len(svc.events("crash_loop", resource=bad)) >= 2, "a second back-off",
             timeout=30)
    delays = [e["retry_in"] for e in svc.events("crash_loop", resource=bad)]
    assert delays == sorted(delays) and len(set(delays)) == len(delays), delays
    assert svc.metrics()[("dockwright_crash_loops", ())] == 1


def test_failing_start_backs_off_then_recovers(
        spec_dir: Path, project_name: str, dclient: Any,
        run_service: Callable[..., Running]) -> None:
    web, ok = f"{project_name}-web", f"{project_name}-ok"
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        (spec_dir / "web.toml").write_text(container_toml(
            web, extra=f'ports = ["127.0.0.1:{port}:80"]\n'))
        (spec_dir / "ok.toml").write_text(container_toml(ok))
        svc = run_service(spec_dir, project_name)
        first = svc.wait_pass("web fails", lambda r: web in r.failed)
        assert _did(ok, Kind.CREATE)(first), "the other container converges regardless"
        failure = next(f.failure for f in first.failures if f.resource == web)
        assert failure.kind is ErrorKind.PERMANENT and failure.retry_after is None
        wait_for(lambda: len(svc.events("resource_backoff", resource=web)) >= 2,
                 "two failed tries")
        backoffs = svc.events("resource_backoff", resource=web)
        assert [(e["retry_in"], e["error_kind"]) for e in backoffs[:2]] == [
            (1.0, "permanent"), (2.0, "permanent")]
        assert svc.service.backoff.snapshot()[web]["failures"] >= 2
        retries = [r for r in list(svc.results) if web in r.failed]
        assert any(Trigger.RETRY in r.triggers for r in retries[1:])
    finally:
        holder.close()
    fixed = svc.wait_pass("web converges once the port is free", _did(web, Kind.CREATE),
                          timeout=60)
    assert fixed.ok
    wait_for(lambda: svc.events("backoff_reset", resource=web), "backoff reset", timeout=10)
    assert web not in svc.service.backoff.snapshot()
    c = wait_for(lambda: (c := get(dclient, web)) and c.status == "running" and c, "web up")
    assert c.name == web
