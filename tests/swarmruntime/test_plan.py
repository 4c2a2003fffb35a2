"""The Swarm plan (``controller.planning.services``) and its rule table, without a cluster:
equal specs plan nothing, differences are named field by field with their cause, a mode
change is a new service, a rolled-back spec is held, foreign services are never touched,
prune stays within the deletion budget, unused secret revisions go."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from controller.desired.recipe import DesiredImage
from controller.desired.service import DesiredService, DesiredServices, with_hash
from controller.planning.actions import Cause, Kind
from controller.planning.rollbacks import RolledBack
from controller.planning.servicerules import compare, restarts_tasks
from controller.planning.services import ObservedServices, make_plan
from runtime.swarm import convert
from runtime.swarm.spec import FileRef, ObjectInfo, ServiceInfo, ServiceSpec, UpdatePolicy
from runtime.types import LABEL_MANAGED_BY, LABEL_PROJECT, MANAGED_BY

OWN = ((LABEL_MANAGED_BY, MANAGED_BY), (LABEL_PROJECT, "p"))


def desired(name: str = "web", **fields: object) -> DesiredService:
    spec = with_hash(convert.canonical(ServiceSpec(
        name, "busybox", labels=OWN, **fields)))  # type: ignore[arg-type]
    return DesiredService(name, "a.toml", spec, DesiredImage("busybox:latest", "ref"),
                          "busybox:latest", secret_keys=frozenset({"PW"}))


def live(d: DesiredService, **fields: object) -> ServiceInfo:
    spec = dataclasses.replace(d.spec, **fields)  # type: ignore[arg-type]
    return ServiceInfo(f"id-{d.spec.name}", 7, spec, running=1, desired=1)


Planned = list[tuple[str, Kind, Cause]]


def plan(want: list[DesiredService], have: list[ServiceInfo], **kw: object) -> Planned:
    observed = ObservedServices("p", {s.spec.name: s for s in have},
                                **kw)  # type: ignore[arg-type]
    result = make_plan(DesiredServices("p", None, tuple(want)), observed)
    return [(a.id, a.kind, a.cause) for a in result.actions]


def test_equal_specs_plan_nothing() -> None:
    d = desired(env=(("A", "1"),), replicas=3)
    assert plan([d], [live(d)]) == [("service:web", Kind.NOOP, Cause.NONE)]


def test_volatile_labels_are_no_difference() -> None:
    d = desired()
    moved = live(d, labels=(*d.spec.labels, ("io.dockwright.revision", "abc")))
    assert compare(d, moved.spec) == []


def test_field_changes_with_causes() -> None:
    d = desired(env=(("A", "2"), ("PW", "new")))
    have = live(d, env=(("A", "1"), ("PW", "old")), labels=())
    changes = compare(d, have.spec)
    assert [(c.field, c.old, c.new) for c in changes if not c.secret] == [
        ("labels.io.dockwright.managed-by", None, "dockwright"),
        ("labels.io.dockwright.project", None, "p"),
        ("env.A", "1", "2")]
    assert [c.field for c in changes if c.secret] == ["env.PW"]  # masked
    assert restarts_tasks(changes)
    assert plan([d], [have]) == [("service:web", Kind.UPDATE, Cause.SPEC)]


def test_replicas_by_hand_is_drift_and_restarts_nothing() -> None:
    d = desired(replicas=2)
    have = live(d, replicas=5)
    assert plan([d], [have]) == [("service:web", Kind.UPDATE, Cause.DRIFT)]
    assert not restarts_tasks(compare(d, have.spec))


def test_update_policy_changes_restart_nothing() -> None:
    d = desired(update=UpdatePolicy(order="start-first"))
    changes = compare(d, live(d, update=UpdatePolicy()).spec)
    assert [c.field for c in changes] == ["update.order"] and not restarts_tasks(changes)


def test_mode_change_is_a_new_service() -> None:
    d = desired(mode="global")
    assert plan([d], [live(d, mode="replicated", replicas=1)]) == [
        ("service:web", Kind.RECREATE, Cause.DRIFT)]


def test_a_rolled_back_spec_is_held_until_it_changes() -> None:
    d = desired(command=("bad",))
    have = live(d, command=("good",))
    back = {"web": RolledBack(d.hash, "task failed", 0.0)}
    observed = ObservedServices("p", {"web": have}, rolled_back=back)
    result = make_plan(DesiredServices("p", None, (d,)), observed)
    assert result.actions == () and "rolled back: task failed" in result.errors[0].message
    fixed = desired(command=("fixed",))
    assert plan([fixed], [have], rolled_back=back) == [
        ("service:web", Kind.UPDATE, Cause.SPEC)]


def test_a_rolled_back_image_is_tried_again_once_the_tag_serves_another() -> None:
    """``pull = "always"``: a fixed image pushed under the same tag is the user's fix; the
    digest that was rolled back stays held."""
    d = dataclasses.replace(desired(), image=DesiredImage("busybox:latest", "ref", "always"))
    bad, good, fixed = "sha256:" + "b" * 64, "sha256:" + "a" * 64, "sha256:" + "f" * 64
    have = dataclasses.replace(live(d), pin=good)
    back = {"web": RolledBack(d.hash, "task failed", 0.0, f"{d.spec.image}@{bad}")}
    observed = ObservedServices("p", {"web": have}, rolled_back=back)
    same = make_plan(DesiredServices("p", None, (d,)), observed, pins={"web": bad})
    assert same.actions == () and "rolled back: task failed" in same.errors[0].message
    again = make_plan(DesiredServices("p", None, (d,)), observed, pins={"web": fixed})
    assert [(a.kind, a.cause) for a in again.actions] == [(Kind.UPDATE, Cause.IMAGE)]
    assert again.actions[0].service is not None
    assert again.actions[0].service.spec.image == f"{d.spec.image}@{fixed}"
    older = {"web": RolledBack(d.hash, "task failed", 0.0)}  # a record without the image
    held = make_plan(DesiredServices("p", None, (d,)),
                     ObservedServices("p", {"web": have}, rolled_back=older),
                     pins={"web": fixed})
    assert held.actions == (), "an earlier release's record holds on the hash alone"


def test_a_foreign_service_with_a_declared_name_is_an_error() -> None:
    d = desired()
    theirs = ServiceInfo("x", 1, ServiceSpec("web", "nginx:latest"))
    result = make_plan(DesiredServices("p", None, (d,)),
                       ObservedServices("p", {}, {"web": theirs}))
    assert result.actions == () and "not owned by project p" in result.errors[0].message


@pytest.mark.parametrize(("declared", "refused"), [(2, False), (1, True), (0, True)])
def test_prune_within_the_deletion_budget(declared: int, refused: bool) -> None:
    names = ["a", "b", "c"]
    have = [live(desired(n)) for n in names]
    result = make_plan(DesiredServices("p", None, tuple(desired(n) for n in names[:declared])),
                       ObservedServices("p", {s.spec.name: s for s in have}))
    assert (result.refused is not None) is refused
    assert [a.id for a in result.actions if a.kind is Kind.REMOVE] == [
        f"service:{n}" for n in names[declared:]]


def test_unused_secret_revisions_are_removed_after_the_services() -> None:
    ref = FileRef("secret", "p_pw_new", "/run/secrets/pw")
    d = desired(files=(ref,))
    have = live(d, files=(dataclasses.replace(ref, name="p_pw_old"),))
    objects = {("secret", n): ObjectInfo(n, n, OWN) for n in ("p_pw_old", "p_pw_new")}
    result = make_plan(DesiredServices("p", None, (d,)),
                       ObservedServices("p", {"web": have}, objects=objects))
    removal = next(a for a in result.actions if a.object == "secret")
    assert removal.name == "p_pw_old" and removal.depends_on == ("service:web",)


def test_desired_services_from_specs(tmp_path: Path) -> None:
    """restart = "no" is condition none, unset is Swarm's any; stopped is 0 replicas;
    ownership labels on the service, only managed-by/project/resource on the tasks."""
    from controller.desired.normalise import normalise
    from controller.desired.service import services
    from specs.loader import load_dir

    (tmp_path / "a.toml").write_text(
        '[project]\nname = "p"\n[container.aa]\nimage = "busybox"\nrestart = "no"\n'
        '[container.bb]\nimage = "busybox"\nstate = "stopped"\nreplicas = 3\n'
        'ports = [{ container = 80, host = 8080, mode = "host" }]\n'
        'update_order = "start-first"\n')
    specs = load_dir(tmp_path, runtime="swarm")
    assert not specs.all_errors()
    got = {s.spec.name: s.spec for s in services(normalise(specs, "p"), "rev1").services}
    assert got["aa"].restart.condition == "none" and got["bb"].restart.condition == "any"
    assert got["bb"].replicas == 0 and got["bb"].update.order == "start-first"
    assert got["bb"].ports[0].mode == "host" and got["bb"].ports[0].published == 8080
    assert got["aa"].label("io.dockwright.revision") == "rev1"
    assert "io.dockwright.revision" not in dict(got["aa"].container_labels)
    assert dict(got["aa"].container_labels)["io.dockwright.resource"] == "aa"
