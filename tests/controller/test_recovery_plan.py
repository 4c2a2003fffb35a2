"""Golden cases for ``controller.planning.recovery``: what an interrupted pass or a rename
left, and the plan that repairs it (fake driver; the order on real runtimes is tested in
``tests/contract/test_recovery.py`` and ``tests/integration/test_interrupted.py``)."""

from __future__ import annotations

from pathlib import Path

from controller.planning.actions import Cause, Kind
from tests.controller.helpers import container, converge, fake, plan_of, rows, write


def test_a_renamed_container_that_matches_its_spec_is_renamed_back(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.toml": container("web")})
    driver = fake()
    converge(root, driver)
    (only,) = driver.containers.values()
    driver.rename_container(only.id, "elsewhere")
    plan = plan_of(root, driver)
    assert rows(plan) == [("rename", "web", "renamed by hand (found as elsewhere): renamed back")]
    assert [(a.observed_id, a.cause) for a in plan.changes] == [(only.id, Cause.RECOVERY)]
    converge(root, driver)
    assert [c.config.name for c in driver.containers.values()] == ["web"]
    assert rows(plan_of(root, driver)) == []


def test_the_old_copy_beside_a_running_new_one_goes_after_it(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.toml": container("web")})
    driver = fake()
    converge(root, driver)
    (only,) = driver.containers.values()
    config = only.config
    driver.rename_container(only.id, f"web_dw-old-{only.id[:12]}")
    driver.start_container(driver.create_container(config))  # killed before the remove
    plan = plan_of(root, driver)
    (remove,) = plan.changes
    assert (remove.kind, remove.name, remove.cause) == (
        Kind.REMOVE, f"web_dw-old-{only.id[:12]}", Cause.RECOVERY)
    assert remove.depends_on == ("container:web",), "removed only after web's own action"
    assert remove.reason.startswith("old copy of an interrupted recreate of web, which runs")


def test_a_created_copy_that_matches_is_reused_and_started(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.toml": container("web", 'env = { V = "1" }')})
    driver = fake()
    converge(root, driver)
    (old,) = driver.containers.values()
    write(root, {"a.toml": container("web", 'env = { V = "2" }')})
    plan = plan_of(root, driver)
    (action,) = plan.changes
    assert action.container is not None
    driver.rename_container(old.id, f"web_dw-old-{old.id[:12]}")
    new = driver.create_container(action.container.final_config("sha256:busybox"))
    plan = plan_of(root, driver)
    (resume,) = plan.changes
    assert (resume.kind, resume.cause, resume.observed_id) == (
        Kind.RECREATE, Cause.RECOVERY, old.id)
    assert resume.resume is not None and (resume.resume.new_id, resume.resume.reuse) == (
        new, True)
    converge(root, driver)
    assert {c.config.name: c.id for c in driver.containers.values()} == {"web": new}
    assert rows(plan_of(root, driver)) == []


def test_two_replicas_back_to_one_keep_the_first(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.toml": container("web", "replicas = 2")})
    driver = fake()
    converge(root, driver)
    write(root, {"a.toml": container("web")})
    plan = plan_of(root, driver)
    assert rows(plan) == [
        ("recreate", "web", "replica naming changed (was web-1): carried its volumes to web"),
        ("remove", "web-2", "replica beyond the declared count (pruned)")]
    assert plan.refused is None
