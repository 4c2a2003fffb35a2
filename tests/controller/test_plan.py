"""Golden cases for the planner: spec files + observed (fake) state in, plan out."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.errors import PlanRefused
from controller.planning.actions import Cause
from controller.planning.plan import Kind
from runtime.types import LABEL_MANAGED_BY, LABEL_PROJECT, ContainerConfig
from tests.controller.helpers import IMAGE, container, converge, fake, plan_of, rows, write

TWO = {
    "db.toml": '[volume.data]\n' + container("db", 'env = { FOO = "bar" }\n'
                                                   'volumes = ["data:/data"]'),
    "web.toml": container("web", 'links = ["db:database"]\ndepends_on = ["db"]'),
}


def test_create_from_nothing(tmp_path: Path) -> None:
    root = write(tmp_path, TWO)
    plan = plan_of(root, fake())
    assert rows(plan) == [
        ("create-network", "t_default", "not found"),
        ("create-volume", "data", "not found"),
        ("create", "db", "not found"),
        ("create", "web", "not found"),
    ]
    web = next(a for a in plan.actions if a.name == "web")
    assert set(web.depends_on) == {"container:db", "network:t_default"}
    db = next(a for a in plan.actions if a.name == "db")
    assert set(db.depends_on) == {"network:t_default", "volume:data"}
    assert db.container is not None
    nets = db.container.config.networks
    assert [(n.network, n.aliases) for n in nets] == [("t_default", ("database",))]


def test_second_plan_is_noop(tmp_path: Path) -> None:
    root = write(tmp_path, TWO)
    driver = fake()
    converge(root, driver)
    driver.calls.clear()
    plan = plan_of(root, driver)
    assert rows(plan) == []
    assert {(a.name, a.cause) for a in plan.actions if a.object == "container"} == {
        ("db", Cause.NONE), ("web", Cause.NONE)}
    # what can change on a live container changes no label: each declared container is
    # inspected once per pass (in parallel), never more; the rest is one list per kind
    inspected = sorted(ref for m, ref in driver.calls if m == "inspect_container")
    assert inspected == sorted(c.id for c in driver.containers.values())
    lists = [m for m, _ in driver.calls if m.startswith("list_")]
    assert sorted(lists) == ["list_containers", "list_networks", "list_volumes"]
    assert {m for m, _ in driver.calls} <= {"inspect_container", "image_info", *lists}


def test_field_change_recreates_with_reason_and_dependents_follow(tmp_path: Path) -> None:
    root = write(tmp_path, TWO)
    driver = fake()
    converge(root, driver)
    write(root, {"db.toml": TWO["db.toml"].replace('"bar"', '"baz"')})
    plan = plan_of(root, driver)
    assert rows(plan) == [
        ("recreate", "db", "env.FOO changed"),
        ("recreate", "web", "follows recreated db"),
    ]
    change = plan.changes[0].changes[0]
    assert (change.field, change.old, change.new, change.in_place) == \
        ("env.FOO", "bar", "baz", False)


def test_restart_and_resources_update_in_place(tmp_path: Path) -> None:
    root = write(tmp_path, TWO)
    driver = fake()
    converge(root, driver)
    extra = 'restart = "always"\nresources = { memory = "64m" }\n'
    write(root, {"db.toml": TWO["db.toml"] + extra})
    plan = plan_of(root, driver)
    assert [(k, n) for k, n, _ in rows(plan)] == [("update", "db")]
    assert {c.field for c in plan.changes[0].changes} == {"restart", "resources"}
    converge(root, driver)
    assert rows(plan_of(root, driver)) == []


def test_prune_removes_undeclared_and_keeps_volumes(tmp_path: Path) -> None:
    files = {**TWO, "extra.toml": container("aa") + container("bb")}
    root = write(tmp_path, files)
    driver = fake()
    converge(root, driver)
    (root / "extra.toml").write_text(container("aa"))
    (root / "db.toml").write_text(container("db", 'env = { FOO = "bar" }'))
    plan = plan_of(root, driver)
    got = rows(plan)
    assert ("remove", "bb", "not declared (pruned)") in got
    assert ("keep-volume", "data", "not declared; named volumes are kept (use "
            "--prune-volumes)") in [(a.kind.value, a.name, a.reason) for a in plan.actions]
    plan = plan_of(root, driver, prune_volumes=True)
    assert ("remove-volume", "data", "not declared (--prune-volumes)") in rows(plan)
    plan = plan_of(root, driver, prune=False)
    assert not [r for r in rows(plan) if r[0] == "remove"]


def test_mass_delete_is_refused_unless_allowed(tmp_path: Path) -> None:
    root = write(tmp_path, TWO)
    driver = fake()
    converge(root, driver)
    (root / "web.toml").unlink()
    (root / "db.toml").write_text("# nothing left\n")
    plan = plan_of(root, driver)
    assert plan.refused is not None
    with pytest.raises(PlanRefused) as info:
        plan.check()
    assert "--allow-mass-delete" in str(info.value)
    assert plan_of(root, driver, allow_mass_delete=True).refused is None


def test_invalid_file_freezes_only_its_resources(tmp_path: Path) -> None:
    root = write(tmp_path, TWO)
    driver = fake()
    converge(root, driver)
    write(root, {"web.toml": container("web", 'ports = ["not a port"]'),
                 "db.toml": TWO["db.toml"].replace('"bar"', '"baz"')})
    plan = plan_of(root, driver)
    assert ("container", "web") in plan.frozen
    assert "web.toml" in plan.invalid_files
    assert rows(plan) == [("recreate", "db", "env.FOO changed")]
    (root / "web.toml").write_text("this is [not toml")
    plan = plan_of(root, driver)
    assert not [r for r in rows(plan) if r[1] == "web"]


def test_foreign_container_with_declared_name_is_an_error(tmp_path: Path) -> None:
    root = write(tmp_path, TWO)
    driver = fake()
    driver.create_container(ContainerConfig(name="web", image=IMAGE,
                                            labels=(("owner", "someone"),)))
    plan = plan_of(root, driver)
    assert [e.resource for e in plan.errors] == ["web"]
    assert "container web" in plan.errors[0].message
    assert not [r for r in rows(plan) if r[1] == "web"]


def test_declared_name_held_by_another_project_names_that_project(tmp_path: Path) -> None:
    root = write(tmp_path, TWO)
    driver = fake()
    driver.create_container(ContainerConfig(name="web", image=IMAGE, labels=(
        (LABEL_MANAGED_BY, "dockwright"), (LABEL_PROJECT, "shop"))))
    plan = plan_of(root, driver)
    assert [e.resource for e in plan.errors] == ["web"]
    assert "exists but belongs to dockwright project shop, not to t;" in plan.errors[0].message
    assert not [r for r in rows(plan) if r[1] == "web"]


def test_other_projects_are_never_pruned(tmp_path: Path) -> None:
    root = write(tmp_path, TWO)
    driver = fake()
    driver.create_container(ContainerConfig(name="other", image=IMAGE, labels=(
        (LABEL_MANAGED_BY, "dockwright"), (LABEL_PROJECT, "someone-else"))))
    assert "other" not in [r[1] for r in rows(plan_of(root, driver))]


def test_replicas_and_state(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.toml": container("ww", "replicas = 3") +
                            container("ss", 'state = "stopped"') +
                            container("gone", 'state = "absent"')})
    driver = fake()
    converge(root, driver)
    names = sorted(c.config.name for c in driver.containers.values())
    assert names == ["ss", "ww-1", "ww-2", "ww-3"]
    assert {c.config.name: c.state.value for c in driver.containers.values()}["ss"] == "created"
    assert rows(plan_of(root, driver)) == []
    write(root, {"a.toml": container("ww", "replicas = 2") + container("ss")})
    got = rows(plan_of(root, driver))
    assert ("remove", "ww-3", "replica beyond the declared count (pruned)") in got
    assert ("start", "ss", "not running: created") in got


def test_secret_values_are_masked(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.toml": container("aa", 'env = { PW = { file = "pw" } }'),
                            "pw": "hunter2\n"})
    driver = fake()
    converge(root, driver)
    (root / "pw").write_text("hunter3\n")
    plan = plan_of(root, driver)
    assert [a.kind for a in plan.changes] == [Kind.RECREATE]
    text = str(plan.to_json())
    assert "hunter" not in text
    assert "env.PW changed" in plan.changes[0].reason
    assert any(c.field == "secret[pw]" for c in plan.changes[0].changes)


def test_images_pull_missing_never_and_new_id(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.toml": '[container.aa]\nimage = "other:1"\n',
                            "b.toml": '[container.bb]\nimage = "third:1"\npull = "never"\n'})
    driver = fake()
    plan = plan_of(root, driver)
    assert ("pull", "other:1", "image other:1 not found") in rows(plan)
    assert [e.resource for e in plan.errors] == ["bb"]
    (root / "b.toml").unlink()
    converge(root, driver)
    driver.add_image("other:1", "sha256:newer")
    assert rows(plan_of(root, driver)) == [("recreate", "aa", "image_id changed")]


def test_new_image_with_other_defaults_names_the_image_first(tmp_path: Path) -> None:
    """The new image id is the reason; its different defaults (workdir) only follow."""
    root = write(tmp_path, {"a.toml": '[container.aa]\nimage = "other:1"\n'})
    driver = fake()
    driver.add_image("other:1", "sha256:older", workdir="/")
    converge(root, driver)
    driver.add_image("other:1", "sha256:newer", workdir="/srv")
    plan = plan_of(root, driver)
    assert rows(plan) == [("recreate", "aa", "image_id changed, workdir changed")]
    assert plan.changes[0].changes[0].render() == "image_id: sha256:older -> sha256:newer"


def test_missing_host_variable_holds_only_that_resource(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.toml": container("aa", 'env = { T = { env = "DW_NOPE_9" } }') +
                            container("bb")})
    plan = plan_of(root, fake())
    assert [e.resource for e in plan.errors] == ["aa"]
    assert "DW_NOPE_9" in plan.errors[0].message
    assert [n for _, n, _ in rows(plan) if n in ("aa", "bb")] == ["bb"]


def test_links_to_replicas_alias_every_replica(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.toml": container("api", "replicas = 2") +
                            container("web", 'links = ["api:backend"]')})
    plan = plan_of(root, fake())
    aliases = {a.name: a.container.config.networks for a in plan.actions
               if a.container is not None}
    assert aliases["api-1"][0].aliases == ("backend",)
    assert aliases["api-2"][0].aliases == ("backend",)
    assert aliases["web"][0].aliases == ()
    web = next(a for a in plan.actions if a.name == "web")
    assert {"container:api-1", "container:api-2"} <= set(web.depends_on)


def test_leftover_of_an_interrupted_recreate_is_resumed_without_refusal(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.toml": container("aa")})
    driver = fake()
    converge(root, driver)
    only = next(iter(driver.containers.values()))
    aside = f"aa_dw-old-{only.id[:12]}"
    driver.rename_container(only.id, aside)  # as a kill -9 right after the rename leaves it
    plan = plan_of(root, driver)
    assert plan.refused is None
    (action,) = [a for a in plan.actions if a.changing]
    assert (action.kind, action.name, action.cause) == (Kind.RECREATE, "aa", Cause.RECOVERY)
    assert action.observed_id == only.id and action.resume is not None
    assert (action.resume.old_name, action.resume.new_id) == (aside, None)
    assert action.reason.startswith("resumes an interrupted recreate")


def test_lifting_a_limit_recreates(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.toml": container("aa", 'resources = { memory = "64m" }')})
    driver = fake()
    converge(root, driver)
    write(root, {"a.toml": container("aa", 'resources = { memory = "128m" }')})
    assert [k for k, _, _ in rows(plan_of(root, driver))] == ["update"]
    write(root, {"a.toml": container("aa")})
    assert rows(plan_of(root, driver)) == [("recreate", "aa", "resources changed")]


def test_scaling_down_is_not_a_mass_delete(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.toml": container("ww", "replicas = 3")})
    driver = fake()
    converge(root, driver)
    write(root, {"a.toml": container("ww")})
    plan = plan_of(root, driver)
    assert plan.refused is None
    assert rows(plan) == [
        ("recreate", "ww", "replica naming changed (was ww-1): carried its volumes to ww"),
        ("remove", "ww-2", "replica beyond the declared count (pruned)"),
        ("remove", "ww-3", "replica beyond the declared count (pruned)")]
    assert [a.cause for a in plan.actions if a.changing] == [
        Cause.RECOVERY, Cause.PRUNE, Cause.PRUNE]


def test_scaling_up_does_not_recreate_users(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.toml": container("api", "replicas = 2") + container(
        "web", 'links = ["api:backend"]\nvolumes_from = ["api"]')})
    driver = fake()
    converge(root, driver)
    write(root, {"a.toml": (root / "a.toml").read_text().replace("replicas = 2", "replicas = 3")})
    got = rows(plan_of(root, driver))
    assert ("create", "api-3", "not found") in got
    assert got == [("create", "api-3", "not found")]


def test_a_new_link_updates_the_target_aliases_in_place(tmp_path: Path) -> None:
    root = write(tmp_path, TWO)
    driver = fake()
    converge(root, driver)
    db_id = next(c.id for c in driver.containers.values() if c.config.name == "db")
    write(root, {"client.toml": container("client", 'links = ["db:store"]')})
    plan = plan_of(root, driver)
    assert [(k, n) for k, n, _ in rows(plan)] == [("create", "client"), ("update", "db")]
    update = plan.changes[1]
    assert "aliases" in update.reason
    assert [(c.field, c.old, c.new, c.in_place) for c in update.changes] == [
        ("networks.t_default.aliases", "[database]", "[database, store]", True)]
    client = next(a for a in plan.actions if a.name == "client")
    assert "container:db" in client.depends_on  # created once db answers to the alias
    converge(root, driver)
    db = next(c for c in driver.containers.values() if c.config.name == "db")
    assert db.id == db_id
    assert [(n.network, n.aliases) for n in db.config.networks] == [
        ("t_default", ("database", "store"))]
    assert rows(plan_of(root, driver)) == []


def test_a_removed_link_updates_the_target_aliases_in_place(tmp_path: Path) -> None:
    root = write(tmp_path, {**TWO, "client.toml": container("client", 'links = ["db:store"]')})
    driver = fake()
    converge(root, driver)
    db_id = next(c.id for c in driver.containers.values() if c.config.name == "db")
    (root / "client.toml").unlink()
    plan = plan_of(root, driver)
    assert [(k, n) for k, n, _ in rows(plan)] == [("update", "db"), ("remove", "client")]
    converge(root, driver)
    db = next(c for c in driver.containers.values() if c.config.name == "db")
    assert db.id == db_id
    assert db.config.networks[0].aliases == ("database",)
    assert rows(plan_of(root, driver)) == []
