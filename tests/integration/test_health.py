"""Issue 3, behaviour 9: ``depends_on = { x = "healthy" }`` waits for the healthcheck.

The dependent is started only after the daemon reported the dependency
healthy (checked against the daemon's own ``health_status`` event times); a
dependency that never becomes healthy fails the pass with a clear error that
names it, and its dependents are not started.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from .conftest import Project, loop_container

pytestmark = pytest.mark.docker

READY_LATER = ("[\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 3; touch /ready; "
               "while :; do sleep 1; done\"]")


def _started_ns(p: Project, short: str) -> int:
    """When a container was (last) started, in ns since the epoch (daemon clock)."""
    value = p.container(short).attrs["State"]["StartedAt"].rstrip("Z")
    head, _, frac = value.partition(".")
    base = datetime.fromisoformat(head).replace(tzinfo=UTC)
    return int(base.timestamp()) * 1_000_000_000 + int((frac + "000000000")[:9])


def test_dependent_waits_until_healthy(project: Project) -> None:
    p = project
    db = p.n("db")
    since = int(time.time()) - 1
    p.write("a.toml", loop_container(
        db, READY_LATER,
        healthcheck='{ test = ["CMD-SHELL", "test -f /ready"], interval = "1s", '
                    'timeout = "1s", retries = 30 }')
        + loop_container(p.n("app"), depends_on=f'{{ "{db}" = "healthy" }}'))
    p.apply_ok()
    db_id = p.container("db").id
    events = p.client.events(since=since, until=int(time.time()) + 1, decode=True,
                             filters={"container": db_id, "event": "health_status"})
    healthy = [e["timeNano"] for e in events if e.get("status", "").endswith(": healthy")]
    assert healthy, "the dependency never reported healthy"
    assert _started_ns(p, "app") >= min(healthy), \
        "the dependent was started before its dependency was healthy"
    assert p.container("app").status == "running"
    assert p.diff().code == 0


def test_never_healthy_dependency_fails_clearly(project: Project) -> None:
    p = project
    sick = p.n("sick")
    p.write("a.toml", loop_container(
        sick, healthcheck='{ test = ["CMD", "false"], interval = "1s", timeout = "1s", '
                          'retries = 2, start_period = "0s" }')
        + loop_container(p.n("app"), depends_on=f'{{ "{sick}" = "healthy" }}'))
    p.write("b.toml", loop_container(p.n("independent")))
    run = p.apply()
    assert run.code == 1, f"a dependency that never gets healthy fails the apply\n{run}"
    assert sick in run.text and "health" in run.text.lower(), f"the error names it\n{run}"
    assert not p.exists("app") or p.container("app").status != "running", \
        "a dependent of an unhealthy container is not started"
    assert p.container("independent").status == "running", "independent containers converge"
