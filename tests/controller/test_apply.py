"""The executor on the fake driver: ordering, parallel independence, rollback, waits."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.execution import waits
from controller.execution.apply import execute
from controller.planning.plan import Kind
from runtime.errors import InvalidRequest
from runtime.types import Health, State
from tests.controller.helpers import container, converge, fake, plan_of, rows, write

CHAIN = {
    "a.toml": '[volume.vol]\n' + container("db", 'volumes = ["vol:/v"]\n'
                                                 'healthcheck = { test = "true" }'),
    "b.toml": container("web", 'depends_on = { db = "healthy" }\nenv = { X = "1" }'),
    "c.toml": container("solo"),
}


def test_dependencies_run_first(tmp_path: Path) -> None:
    root = write(tmp_path, CHAIN)
    driver = fake()
    converge(root, driver)
    order = [(m, n) for m, n in driver.calls if m.startswith(("create", "start"))]
    assert order.index(("create_volume", "vol")) < order.index(("create_container", "db"))
    assert order.index(("create_network", "t_default")) < order.index(("create_container", "db"))
    db_started = next(i for i, (m, _) in enumerate(order) if m == "start_container"
                      and driver.containers[_id(driver, "db")].id == order[i][1])
    assert db_started < order.index(("create_container", "web"))


def _id(driver: object, name: str) -> str:
    from runtime.fake import FakeDriver

    assert isinstance(driver, FakeDriver)
    return next(c.id for c in driver.containers.values() if c.config.name == name)


def test_failed_action_skips_only_its_dependents(tmp_path: Path) -> None:
    root = write(tmp_path, CHAIN)
    driver = fake()
    driver.fail("create_container", "db", InvalidRequest("boom"))
    outcomes = execute(driver, plan_of(root, driver))
    by_name = {o.action.name: o for o in outcomes}
    assert not by_name["db"].ok and "boom" in (by_name["db"].error or "")
    assert not by_name["web"].ok and by_name["web"].error == "skipped: container:db failed"
    assert by_name["solo"].ok
    assert {c.config.name for c in driver.containers.values()} == {"solo"}


def test_failed_recreate_puts_the_old_container_back(tmp_path: Path) -> None:
    root = write(tmp_path, CHAIN)
    driver = fake()
    converge(root, driver)
    old_id = _id(driver, "web")
    write(root, {"b.toml": CHAIN["b.toml"].replace('"1"', '"2"')})
    driver.fail("start_container", "web", InvalidRequest("port clash"), once=True)
    plan = plan_of(root, driver)
    assert rows(plan) == [("recreate", "web", "env.X changed")]
    outcome = next(o for o in execute(driver, plan) if o.action.name == "web")
    assert not outcome.ok
    assert "the old container was restored" in (outcome.error or "")
    web = driver.containers[old_id]
    assert web.config.name == "web" and web.state is State.RUNNING
    assert [c.config.name for c in driver.containers.values()].count("web") == 1


def test_recreate_replaces_the_container(tmp_path: Path) -> None:
    root = write(tmp_path, CHAIN)
    driver = fake()
    converge(root, driver)
    old_id = _id(driver, "web")
    write(root, {"b.toml": CHAIN["b.toml"].replace('"1"', '"2"')})
    driver.calls.clear()
    converge(root, driver)
    assert old_id not in driver.containers
    steps = [m for m, n in driver.calls if n.startswith((old_id, "web"))
             and m not in ("inspect_container", "list_containers")]
    assert steps[:2] == ["rename_container", "create_container"] or \
        steps[:3] == ["rename_container", "stop_container", "create_container"]
    assert steps[-1] == "remove_container"
    assert dict(driver.containers[_id(driver, "web")].config.env)["X"] == "2"
    assert rows(plan_of(root, driver)) == []


def test_unhealthy_dependency_fails_with_a_clear_error(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(waits, "POLL", 0.01)
    monkeypatch.setattr(waits, "deadline_for", lambda desired, condition: 0.05)
    root = write(tmp_path, CHAIN)
    driver = fake()
    driver.healthy_on_start = False
    outcomes = {o.action.name: o for o in execute(driver, plan_of(root, driver))}
    error = outcomes["web"].error or ""
    assert not outcomes["web"].ok
    assert "container db is unhealthy" in error
    assert "fake: probe failed" in error
    assert outcomes["db"].ok


def test_healthy_dependency_that_exited_for_good_fails_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dependency that exited and is not restarted never becomes healthy: no deadline wait."""
    monkeypatch.setattr(waits, "POLL", 0.01)
    monkeypatch.setattr(waits, "deadline_for", lambda desired, condition: 5.0)
    root = write(tmp_path, CHAIN)
    driver = fake()
    original = driver.start_container

    def start_and_crash(ref: str) -> None:
        original(ref)
        c = driver.containers.get(ref)
        if c is not None and c.config.name == "db":
            c.state, c.exit_code, c.health = State.EXITED, 1, Health.STARTING

    driver.start_container = start_and_crash  # type: ignore[method-assign]
    outcomes = {o.action.name: o for o in execute(driver, plan_of(root, driver))}
    error = outcomes["web"].error or ""
    assert not outcomes["web"].ok
    assert "container db exited with code 1 before it became healthy" in error
    assert "within" not in error  # not the deadline's message


def test_completed_dependency_waits_for_exit_zero(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(waits, "POLL", 0.01)
    root = write(tmp_path, {"a.toml": container("job") +
                            container("app", 'depends_on = { job = "completed" }')})
    driver = fake()
    original = driver.start_container

    def start_and_finish(ref: str) -> None:
        original(ref)
        c = driver.containers.get(ref)
        if c is not None and c.config.name == "job":
            c.state, c.exit_code = State.EXITED, 0

    driver.start_container = start_and_finish  # type: ignore[method-assign]
    converge(root, driver)
    assert rows(plan_of(root, driver)) == []  # an exited job that others wait for stays done


def test_pull_always_recreates_only_when_the_id_changes(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.toml": '[container.aa]\nimage = "app:1"\npull = "always"\n'})
    driver = fake()
    driver.pull_ids["app:1"] = "sha256:v1"
    converge(root, driver)
    first = _id(driver, "aa")
    plan = plan_of(root, driver)
    assert not plan.has_changes and plan.has_work  # a routine pull is not a change
    outcomes = converge(root, driver)
    assert first == _id(driver, "aa")
    assert [o.action.kind for o in outcomes if o.action.object == "image"] == [Kind.PULL]
    driver.pull_ids["app:1"] = "sha256:v2"
    outcomes = converge(root, driver)
    assert first != _id(driver, "aa")
    assert any("has a new id" in o.detail for o in outcomes)


def test_network_removal_failure_does_not_fail_the_pass(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.toml": container("aa") + container("bb") + container("cc")})
    driver = fake()
    converge(root, driver)
    driver.networks["t_old"] = driver.networks["t_default"].__class__(
        "x", "t_old", labels=driver.networks["t_default"].labels)
    driver.fail("remove_network", "t_old", InvalidRequest("has active endpoints"))
    outcomes = converge(root, driver)
    assert [o.detail for o in outcomes if o.action.kind is Kind.REMOVE_NETWORK] == [
        "not removed, will retry next pass: has active endpoints"]
