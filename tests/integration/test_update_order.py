"""``update_order``: how a recreate replaces a running container.

stop-first (the default): the old container stops before the new one starts.
start-first: the new one starts (and becomes healthy) while the old one still
runs; only then is the old one stopped; if the new one fails, the old one is
never stopped and keeps its name. Ordering is read from the daemon's own event
stream (``start`` of the new container vs ``die`` of the old one).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from runtime.types import LABEL_PROJECT

from .conftest import IMAGE, LOOP, Project

pytestmark = pytest.mark.docker


def _spec(p: Project, version: str, order: str | None, extra: str = "") -> str:
    line = f'update_order = "{order}"\n' if order else ""
    return (f"[container.{p.n('web')}]\n"
            f'image = "{IMAGE}"\n'
            f"command = {LOOP}\n"
            'stop_timeout = "1s"\n'
            f'env = {{ V = "{version}" }}\n'
            f"{line}{extra}")


def _events(p: Project, since: int) -> list[dict[str, Any]]:
    """The project's container events since ``since`` (the daemon's clock, ns order)."""
    until = int(time.time()) + 1
    stream = p.client.api.events(since=since, until=until, decode=True,
                                 filters={"type": "container",
                                          "label": f"{LABEL_PROJECT}={p.name}"})
    return sorted((e for e in stream if e.get("status") in ("start", "die")),
                  key=lambda e: int(e["timeNano"]))


def _first(events: list[dict[str, Any]], status: str, cid: str) -> int:
    return next(int(e["timeNano"]) for e in events if e["status"] == status and e["id"] == cid)


@pytest.mark.parametrize("order", [None, "start-first"])
def test_the_order_of_start_and_stop(project: Project, order: str | None) -> None:
    p = project
    health = 'healthcheck = { test = ["CMD", "true"], interval = "1s" }\n' if order else ""
    p.write("a.toml", _spec(p, "1", order, health))
    p.apply_ok()
    old = p.container("web").id
    since = int(time.time()) - 1
    p.write("a.toml", _spec(p, "2", order, health))
    run = p.apply_ok()
    new = p.container("web")
    assert new.id is not None and old is not None
    assert new.id != old and new.status == "running", str(run)
    assert p.diff().code == 0
    events = _events(p, since)
    started, died = _first(events, "start", new.id), _first(events, "die", old)
    if order == "start-first":
        assert started < died, f"the old container stopped before the new one started\n{run}"
        assert new.attrs["State"]["Health"]["Status"] == "healthy"
    else:
        assert died < started, f"stop-first started the new one first\n{run}"
    assert set(p.ids()) == {p.n("web")}, "the old container was not removed"


def test_a_failed_start_first_update_never_stops_the_old_container(project: Project) -> None:
    p = project
    p.write("a.toml", _spec(p, "1", "start-first"))
    p.apply_ok()
    before = p.container("web")
    started_at = before.attrs["State"]["StartedAt"]
    since = int(time.time()) - 1
    broken = _spec(p, "2", "start-first").replace(LOOP, '["sh", "-c", "exit 3"]')
    p.write("a.toml", broken)
    run = p.apply()
    assert run.code == 1, str(run)
    assert "kept running" in run.text, str(run)
    after = p.container("web")
    assert after.id == before.id and after.status == "running", str(run)
    assert after.attrs["State"]["StartedAt"] == started_at, "the old container was restarted"
    assert all(e["id"] != before.id for e in _events(p, since) if e["status"] == "die")
    assert set(p.ids()) == {p.n("web")}, f"a new or renamed container was left behind\n{run}"
    assert p.diff().code == 2, "the change is still pending"


def test_start_first_is_refused_where_both_copies_would_clash(project: Project) -> None:
    p = project
    p.write("a.toml", _spec(p, "1", "start-first",
                            'ports = ["127.0.0.1:18089:80"]\n'
                            f'volumes = ["{p.n("data")}:/data", "/srv:/srv:ro"]\n'))
    run = p.cli("validate")
    assert run.code == 1, str(run)
    assert "a.toml:7: container." in run.text and "ports[0]: update_order" in run.text, str(run)
    assert "volumes[0]: update_order" in run.text and "volumes[1]" not in run.text, str(run)
    assert not p.ids(), "nothing is created from an invalid file"
