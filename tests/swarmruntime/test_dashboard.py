"""``watch --runtime swarm --listen``: the endpoint and the dashboard on a real Swarm.

A ``dockwright watch --runtime swarm --listen 127.0.0.1:PORT`` subprocess on the
private single-node Swarm (``swarm_host``): the project page shows each service's
replicas running/desired and its task table (slot, node, state); ``/status``,
``/metrics`` and the resource page (``why``) answer; a service scaled by hand shows
as healed (also in Debian's headless Chromium, without a reload); an update Swarm
rolls back shows as failed with Swarm's message, held, with the failed tasks listed.
Neighbours: ``controller/service/swarmview.py`` (under test),
``tests/dashboard/test_browser.py`` (the browser fixture and helpers).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.swarm.driver import SwarmDriver
from tests.conftest import wait_for
from tests.dashboard.conftest import artifacts
from tests.dashboard.test_browser import RECORD, _open, _state, _text, _until, browser
from tests.dockerd import PrivateDockerd
from tests.ports import free_port
from tests.swarmruntime.conftest import IMAGE
from tests.watch.helpers import Service, parse_prometheus

__all__ = ["artifacts", "browser"]  # the fixtures shared with the Docker dashboard tests

Start = Callable[[Path], Service]


def web(name: str, command: str = '["sleep", "100000"]', replicas: int = 2) -> str:
    return f"""[project]
name = "{name}"

[container.{name}-web]
image = "{IMAGE}"
command = {command}
replicas = {replicas}
stop_timeout = "1s"
update = {{ failure_action = "rollback", monitor = "2s" }}
"""


@pytest.fixture
def dashboard(swarm_host: PrivateDockerd, tmp_path: Path) -> Iterator[Start]:
    started: list[tuple[Service, Path]] = []
    env = {"DOCKER_HOST": swarm_host.url, "DOCKWRIGHT_STATE_DIR": str(tmp_path / "state"),
           "DOCKWRIGHT_LOCK_DIR": str(tmp_path / "locks")}

    def start(specs: Path) -> Service:
        port = free_port()
        svc = Service(["watch", "--runtime", "swarm", str(specs), "--listen",
                       f"127.0.0.1:{port}"], env=env, port=port)
        started.append((svc, specs))
        svc.wait_ready()
        return svc

    yield start
    for svc, specs in started:
        code = svc.terminate()
        svc.close()
        assert code == 0, svc.output()
        down = Service(["down", "--runtime", "swarm", str(specs)], env=env)
        assert down.proc.wait(120) == 0, down.output()
        down.close()


def page(svc: Service, path: str, pred: Callable[[str], bool], what: str,
         timeout: float = 60.0) -> str:
    def check() -> str | None:
        code, body = svc.http(path)
        return body if code == 200 and pred(body) else None

    return wait_for(check, what, timeout=timeout, step=0.2)


def row_of(html: str, name: str) -> str:
    """The resource row of ``name`` and its task table, as text without tags."""
    start = html.index(f'data-name="{name}"')
    end = html.find("<tr data-name=", start + 1)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html[start:end if end > 0 else None]))


def tasks_of(html: str, name: str) -> list[list[str]]:
    """The cells of each task row under ``name``."""
    start = html.index(f'<tr class="tasks" data-service="{name}">')
    table = html[start:html.index("</table>", start)]
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r)]
            for r in re.findall(r'<tr class="task">(.*?)</tr>', table)]


def test_the_pages_show_services_tasks_and_nodes(dashboard: Start, swarm: SwarmDriver,
                                                 name: str, tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "app.toml").write_text(web(name))
    svc = dashboard(specs)
    node = swarm.nodes()[0].hostname
    service = f"{name}-web"

    html = page(svc, f"/p/{name}", lambda b: service in b and "2/2 running" in b,
                "the service 2/2 running on its project page")
    row = row_of(html, service)
    assert "service" in row and "in sync" in row and "2 replica(s)" in row, row
    assert IMAGE in row, row
    tasks = tasks_of(html, service)
    assert sorted(t[0] for t in tasks) == ["1", "2"], tasks  # the slots
    assert all(t[2] == node and t[3] == "running" and t[4] == "running" for t in tasks), tasks

    overview = svc.http("/")[1]
    assert f'data-project="{name}"' in overview and "swarm" in overview, overview

    status = svc.json("/status")
    assert status["runtime"] == "swarm" and status["watch"]["runtime"] == "swarm", status
    entry = next(r for r in status["resources"] if r["name"] == service)
    assert entry["actual"] == "2/2 running" and entry["in_sync"], entry
    assert [t["node"] for t in entry["tasks"]] == [node, node], entry
    assert [n["hostname"] for n in status["nodes"]] == [node], status["nodes"]

    metrics = parse_prometheus(svc.http("/metrics")[1])
    assert metrics[("dockwright_resources", (("state", "converged"),))] == 1.0, metrics
    assert metrics[("dockwright_passes_total", (("result", "changed"),))] >= 1, metrics
    assert metrics[("dockwright_ready", ())] == 1.0, metrics

    code, why = svc.http(f"/p/{name}/r/{service}")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", why))
    assert code == 200 and "app.toml:4 container." + service in text, text
    assert "2/2 running" in text and "in sync" in text, text
    code, checked = svc.http(f"/p/{name}/r/{service}?check=1")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", checked))
    assert code == 200 and "runtime swarm" in text and "in sync" in text, text

    # scaled by hand: put back by the next pass, shown as healed, journaled as drift
    live = swarm.inspect_service(service)
    swarm.update_service(live.id, dataclasses.replace(live.spec, replicas=1), live.version)
    html = page(svc, f"/p/{name}", lambda b: service in b and "healed" in row_of(b, service)
                and "2/2 running" in row_of(b, service), "the hand-made scale healed")
    # the put-back scale converged: both tasks run (Swarm's own count also has the task
    # that the hand-made scale-down was stopping)
    assert [t[3] for t in tasks_of(html, service)] == ["running", "running"], html
    journal = svc.http(f"/journal?project={name}&cause=drift")[1]
    assert service in journal and "update" in journal, journal


def test_a_rolled_back_update_shows_failed_and_held(dashboard: Start, name: str,
                                                     tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "app.toml").write_text(web(name, replicas=1))
    svc = dashboard(specs)
    service = f"{name}-web"
    page(svc, f"/p/{name}", lambda b: "1/1 running" in b, "the service running")

    (specs / "app.toml").write_text(web(name, '["sh", "-c", "sleep 1; exit 3"]', replicas=1))
    html = page(svc, f"/p/{name}", lambda b: service in b and "rolled back" in row_of(b, service),
                "the rollback on the project page", timeout=120)
    row = row_of(html, service)
    assert "failed" in row or "error" in row, row
    failed = [t for t in tasks_of(html, service) if t[3] in ("failed", "rejected")]
    assert failed and "non-zero exit (3)" in failed[0][6], tasks_of(html, service)
    status = svc.json("/status")
    assert status["watch"]["last_result"]["ok"] is False, status["watch"]
    held = next(r for r in status["resources"] if r["name"] == service)
    assert held["action"] == "held" and "rolled back" in held["reason"], held
    journal = svc.http(f"/journal?project={name}&resource={service}")[1]
    assert journal.count("rolled back") >= 1, journal


def test_a_hand_scale_heals_on_the_open_page(browser: Any, dashboard: Start,
                                             swarm: SwarmDriver, name: str, tmp_path: Path,
                                             artifacts: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "app.toml").write_text(web(name))
    svc = dashboard(specs)
    service = f"{name}-web"
    _open(browser, svc, f"/p/{name}")
    _until(browser, "the service in sync", lambda b: _state(b, service) == "in sync"
           and "2/2 running" in _text(b, f'tr[data-name="{service}"]'))
    assert _text(browser, f'tr[data-service="{service}"]').count("running") >= 4
    browser.execute_script(RECORD, service)

    live = swarm.inspect_service(service)
    swarm.update_service(live.id, dataclasses.replace(live.spec, replicas=1), live.version)
    _until(browser, "the service healed", lambda b: _state(b, service) == "healed")
    states = browser.execute_script("return window.__dwStates")
    assert "drifted" in states and states.index("drifted") < states.index("healed"), states
    assert browser.execute_script("return window.__dwMarker") == "no reload"
    browser.save_screenshot(str(artifacts / "swarm-scale-healed.png"))
