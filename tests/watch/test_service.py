"""End-to-end tests of ``dockwright watch``: the real service (a subprocess)
against the real Docker daemon, asserting on what Docker shows and on the
service's structured (JSON) log events.

Neighbours: ``controller.commands.watch`` and everything below it;
``tests/watch/helpers.py``; ``test_runtime_restart.py`` (private dockerd) and
``test_git.py`` (git source) cover the remaining scenarios.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.watch.helpers import Service, container_toml, get, parse_prometheus

pytestmark = pytest.mark.docker


def _container(dclient: Any, name: str) -> Any:
    return get(dclient, name)


def _running_with_env(dclient: Any, name: str, pair: str) -> Any:
    c = _container(dclient, name)
    if c is None or c.status != "running":
        return None
    return c if pair in (c.attrs["Config"]["Env"] or []) else None


def test_watch_converges_edits_heals_kills_and_reports(
        spec_dir: Path, project_name: str, dclient: Any,
        start_service: Callable[..., Service]) -> None:
    web = f"{project_name}-web"
    (spec_dir / "web.toml").write_text(container_toml(web, env={"A": "1"}))
    svc = start_service(["--project", project_name, "watch", str(spec_dir)])
    svc.wait_ready()
    first = wait_for(lambda: _running_with_env(dclient, web, "A=1"), "web running with A=1")
    assert svc.http("/healthz")[0] == 200

    # an edit: the container is recreated with the new value
    mark = svc.count("pass")
    (spec_dir / "web.toml").write_text(container_toml(web, env={"A": "2"}))
    second = wait_for(lambda: _running_with_env(dclient, web, "A=2"), "web running with A=2")
    assert second.id != first.id
    action = svc.wait_event("action", resource=web, action="recreate")
    assert "env.A" in action["reason"] and action["reconcile_id"]
    passes = svc.logged("pass")[mark:]
    assert any("files" in p["triggers"] for p in passes)

    # docker kill: dockwright starts it again (Docker's policy would not)
    started_at = second.attrs["State"]["StartedAt"]
    second.kill()
    healed = wait_for(lambda: (c := _container(dclient, web)) and c.status == "running"
                      and c.attrs["State"]["StartedAt"] != started_at and c,
                      "killed container running again")
    assert healed.id == second.id
    drift = svc.wait_event("drift_corrected", resource=web, action="start")
    assert drift["reconcile_id"]

    # a no-op pass logs exactly one line (no action lines)
    before = svc.count("pass")
    os.kill(svc.proc.pid, 1)  # SIGHUP asks for a pass
    noop = svc.wait_event("pass", since=before, triggers=["sighup"])
    assert noop["changed"] is False and noop["actions"] == 0
    assert not [e for e in svc.logged("action") if e.get("reconcile_id") == noop["reconcile_id"]]

    # metrics parse and count what happened
    code, text = svc.http("/metrics")
    assert code == 200
    samples = parse_prometheus(text)
    assert samples[("dockwright_actions_total", (("kind", "recreate"), ("result", "ok")))] >= 1
    assert samples[("dockwright_drift_corrections_total", ())] >= 1
    assert samples[("dockwright_pass_duration_seconds_count", ())] >= 3
    assert samples[("dockwright_resources", (("state", "running"),))] == 1
    assert ("dockwright_queue_depth", ()) in samples
    status = svc.json("/status")
    assert status["watch"]["ready"] is True and status["quarantined_files"] == []

    # a second controller of the same project fails fast, naming the holder
    other = start_service(["--project", project_name, "watch", str(spec_dir)], listen=False)
    assert other.proc.wait(30) == 1
    err = other.output()
    assert str(svc.proc.pid) in err and "--wait-lock" in err

    # SIGTERM: exit 0, containers keep running
    assert svc.terminate() == 0
    assert svc.logged("watch_stopped", clean=True)
    still = _container(dclient, web)
    assert still is not None and still.status == "running" and still.id == second.id


def test_broken_file_freezes_its_resources_until_fixed(
        spec_dir: Path, project_name: str, dclient: Any,
        start_service: Callable[..., Service]) -> None:
    web, api = f"{project_name}-web", f"{project_name}-api"
    (spec_dir / "web.toml").write_text(container_toml(web, env={"A": "1"}))
    (spec_dir / "api.toml").write_text(container_toml(api, env={"B": "1"}))
    svc = start_service(["--project", project_name, "watch", str(spec_dir)])
    svc.wait_ready()
    web_c = wait_for(lambda: _running_with_env(dclient, web, "A=1"), "web running")
    wait_for(lambda: _running_with_env(dclient, api, "B=1"), "api running")

    (spec_dir / "web.toml").write_text(container_toml(web, env={"A": "2"}) + "bogus = 1\n")
    (spec_dir / "api.toml").write_text(container_toml(api, env={"B": "2"}))
    invalid = svc.wait_event("spec_invalid")
    assert any("web.toml" in e for e in invalid["errors"])
    assert f"container.{web}" in invalid["frozen"]
    wait_for(lambda: _running_with_env(dclient, api, "B=2"), "api still converges")
    status = wait_for(lambda: (s := svc.json("/status")) and s["quarantined_files"] and s,
                      "quarantined file in /status")
    assert status["quarantined_files"] == ["web.toml"]
    assert any(e["file"] == "web.toml" for e in status["watch"]["spec_errors"])
    frozen = _container(dclient, web)
    assert frozen is not None and frozen.id == web_c.id and frozen.status == "running"
    assert "A=1" in frozen.attrs["Config"]["Env"]  # neither updated nor pruned

    (spec_dir / "web.toml").write_text(container_toml(web, env={"A": "3"}))
    svc.wait_event("spec_valid")
    wait_for(lambda: _running_with_env(dclient, web, "A=3"), "web converges once fixed")
    assert wait_for(lambda: svc.json("/status")["quarantined_files"] == [] or None,
                    "quarantine cleared")
    assert svc.terminate() == 0


def test_crash_looping_container_is_backed_off_and_shown(
        spec_dir: Path, project_name: str, dclient: Any,
        start_service: Callable[..., Service]) -> None:
    bad = f"{project_name}-crash"
    (spec_dir / "crash.toml").write_text(
        container_toml(bad, command='["sh", "-c", "exit 3"]'))
    svc = start_service(["--project", project_name, "watch", str(spec_dir)])
    svc.wait_ready()
    loop = svc.wait_event("crash_loop", resource=bad, timeout=60)
    assert loop["retry_in"] >= 1
    def looping() -> dict[str, Any] | None:
        body: dict[str, Any] = svc.json("/status")
        return body if bad in body["crash_loops"] else None

    status = wait_for(looping, "crash loop in /status")
    assert status is not None
    assert status["crash_loops"][bad]["crash_looping"] is True
    assert status["backoffs"][bad]["reason"] == "crash-looping"
    entry = next(r for r in status["resources"] if r.get("name") == bad)
    assert entry["crash_looping"] is True and entry["backoff"]["failures"] >= 1
    samples = parse_prometheus(svc.http("/metrics")[1])
    assert samples[("dockwright_crash_loops", ())] == 1
    # while backing off, the restarts slow down: each one doubles the delay
    time.sleep(6)
    starts = svc.logged("action", resource=bad, action="start")
    loops = svc.logged("crash_loop", resource=bad)
    delays = [e["retry_in"] for e in loops]
    assert delays == sorted(delays) and len(set(delays)) == len(delays)
    assert len(starts) <= 3 + len(loops)  # never a hot loop: one start per backoff step
    c = dclient.containers.get(bad)
    assert c.attrs["State"]["ExitCode"] == 3
    assert svc.terminate() == 0


def test_failing_resource_backs_off_then_recovers(
        spec_dir: Path, project_name: str, dclient: Any,
        start_service: Callable[..., Service]) -> None:
    """A host port held by another process: the start fails, retries slow down
    (1 s, 2 s, 4 s ...), the other resources are unaffected, and once the port
    is free the container converges and its backoff is reset."""
    web, ok = f"{project_name}-web", f"{project_name}-ok"
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        (spec_dir / "web.toml").write_text(container_toml(
            web, extra=f'ports = ["127.0.0.1:{port}:80"]\n'))
        (spec_dir / "ok.toml").write_text(container_toml(ok))
        svc = start_service(["--project", project_name, "watch", str(spec_dir)])
        svc.wait_ready()
        wait_for(lambda: (c := _container(dclient, ok)) and c.status == "running",
                 "the other container runs regardless")
        first = svc.wait_event("resource_backoff", resource=web)
        second = svc.wait_event("resource_backoff", resource=web, since=1)
        assert (first["retry_in"], second["retry_in"]) == (1.0, 2.0)
        assert str(port) in first["error"]
        status = svc.json("/status")
        assert status["backoffs"][web]["failures"] >= 2
    finally:
        holder.close()
    wait_for(lambda: (c := _container(dclient, web)) and c.status == "running",
             "web running once the port is free", timeout=60)
    svc.wait_event("backoff_reset", resource=web, timeout=30)
    assert web not in svc.json("/status")["backoffs"]
    assert svc.terminate() == 0


def test_one_controller_per_project(spec_dir: Path, project_name: str,
                                    start_service: Callable[..., Service]) -> None:
    """``apply`` while a watch runs fails naming it; ``--wait-lock`` waits, then takes over."""
    web = f"{project_name}-web"
    (spec_dir / "web.toml").write_text(container_toml(web))
    watch = ["--project", project_name, "watch", str(spec_dir)]
    first = start_service(watch)
    first.wait_ready()
    apply = start_service(["--project", project_name, "apply", str(spec_dir)], listen=False)
    assert apply.proc.wait(60) == 1
    assert str(first.proc.pid) in apply.output() and "--wait-lock" in apply.output()
    waiting_apply = start_service(["--project", project_name, "apply", "--wait-lock",
                                   str(spec_dir)], listen=False)
    time.sleep(1)
    assert waiting_apply.proc.poll() is None  # cannot finish while the watch holds the lock
    assert first.terminate() == 0
    assert waiting_apply.proc.wait(60) == 0

    holder = start_service(watch)
    holder.wait_ready()
    second = start_service([*watch[:3], "--wait-lock", *watch[3:]])
    waiting = second.wait_event("waiting_for_lock")
    assert str(holder.proc.pid) in waiting["holder"]
    assert holder.terminate() == 0
    second.wait_ready()
    assert second.logged("lock_acquired", project=project_name)
    assert second.terminate() == 0


def _wait_docker_event(dclient: Any, name: str, action: str, since: float) -> None:
    """Block until Docker reports ``action`` for container ``name`` (bounded)."""
    stream = dclient.api.events(decode=True, since=int(since), until=int(since) + 60,
                                filters={"type": "container", "event": action,
                                         "container": name})
    try:
        for _ in stream:
            return
    finally:
        stream.close()
    pytest.fail(f"no {action} event for {name}")


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_stop_in_the_middle_of_a_recreate_loses_nothing(
        sig: str, spec_dir: Path, project_name: str, dclient: Any,
        start_service: Callable[..., Service]) -> None:
    """SIGTERM mid-action: exit 0 within the stop timeout; kill -9 mid-action:
    nothing lost. Either way the next start converges, with no leftovers."""
    import signal as signals

    web = f"{project_name}-web"
    slow = '["sleep", "1000"]'  # ignores SIGTERM: every stop waits the full stop_timeout
    (spec_dir / "web.toml").write_text(container_toml(web, env={"V": "1"}, command=slow)
                                       .replace('stop_timeout = "1s"', 'stop_timeout = "3s"'))
    args = ["--project", project_name, "watch", "--stop-timeout", "1s", str(spec_dir)]
    svc = start_service(args)
    svc.wait_ready()
    old = wait_for(lambda: _running_with_env(dclient, web, "V=1"), "web running")
    (spec_dir / "web.toml").write_text(container_toml(web, env={"V": "2"}, command=slow)
                                       .replace('stop_timeout = "1s"', 'stop_timeout = "3s"'))
    _wait_docker_event(dclient, old.id, "kill", time.time() - 5)  # the recreate is stopping it
    svc.proc.send_signal(getattr(signals, sig))
    code = svc.proc.wait(30)
    if sig == "SIGTERM":
        assert code == 0
        assert svc.logged("watch_stopped")
    assert code == 0 or sig == "SIGKILL"

    again = start_service(args)
    again.wait_ready()
    new = wait_for(lambda: _running_with_env(dclient, web, "V=2"), "web converged after restart")
    owned = dclient.containers.list(all=True, filters={"label": f"io.dockwright.project="
                                                                f"{project_name}"})
    assert [c.name for c in owned] == [web] and owned[0].id == new.id
    assert again.terminate() == 0


def test_resync_catches_drift_without_an_event(
        spec_dir: Path, project_name: str, dclient: Any,
        start_service: Callable[..., Service]) -> None:
    """``docker rename`` emits no event the service follows; the periodic resync
    still finds the drift: the container gets its declared name back (same id, so its
    data stays), and nothing is left under the stray name."""
    web = f"{project_name}-web"
    (spec_dir / "web.toml").write_text(container_toml(web))
    svc = start_service(["--project", project_name, "watch", "--resync", "1s", str(spec_dir)])
    svc.wait_ready()
    old = wait_for(lambda: (c := _container(dclient, web)) and c.status == "running" and c,
                   "web running")
    old.rename(f"{project_name}-stray")
    new = wait_for(lambda: (c := _container(dclient, web)) and c.status == "running" and c,
                   "web back under its declared name")
    assert new.id == old.id, "renamed back, not replaced"
    assert _container(dclient, f"{project_name}-stray") is None
    svc.wait_event("pass", changed=True, pred=lambda p: "resync" in p["triggers"])
    assert svc.terminate() == 0
