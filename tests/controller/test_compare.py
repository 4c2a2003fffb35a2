"""The container rule table: one row per field, image defaults merged in, row parameters.

Pure cases on ``controller.planning.compare``: the table covers every
``ContainerConfig`` field exactly once; what a converged container reports
(image defaults, orders, port forms) is no change; each per-field parameter
(secret env values, own labels, network membership and aliases, a lifted
limit, the stop timeout Docker rounds) decides as declared. The comparators
themselves are tested in ``test_fieldrules.py``, the merge of image defaults
against the real daemon in ``tests/integration/test_imagedefaults.py``.
"""

from __future__ import annotations

import dataclasses

import pytest

from controller.desired.state import DesiredContainer, DesiredImage
from controller.planning.compare import RULES, compare, expected, in_place_field
from controller.planning.fieldrules import Kind, Update
from runtime.types import (
    LABEL_HASH,
    ContainerConfig,
    ContainerInfo,
    ContainerSummary,
    HealthSpec,
    ImageInfo,
    NetworkAttach,
    PortBinding,
    ResourceSpec,
    RestartSpec,
    State,
)

IMAGE = ImageInfo(id="sha256:x", env=(("PATH", "/bin"), ("LANG", "C")), command=("sh",),
                  workdir="/srv", user="app", labels=(("vendor", "v"),),
                  healthcheck=HealthSpec(("CMD", "true"), interval=5.0))


def desired(secret_keys: frozenset[str] = frozenset(), **fields: object) -> DesiredContainer:
    config = ContainerConfig(name="a", image="img:1", **fields)  # type: ignore[arg-type]
    return DesiredContainer("a", "a", 1, "a.toml", config, DesiredImage("img:1", "ref"),
                            secret_keys=secret_keys)


def live(config: ContainerConfig) -> ContainerInfo:
    return ContainerInfo(ContainerSummary("id", "a", "sha256:x", State.RUNNING), config)


def converged(want: DesiredContainer, **fields: object) -> ContainerInfo:
    """The live container as the runtime reports it after creating ``want``."""
    return live(dataclasses.replace(expected(want, IMAGE), **fields))  # type: ignore[arg-type]


def test_every_config_field_has_exactly_one_row() -> None:
    assert list(RULES) == [f.name for f in dataclasses.fields(ContainerConfig)]


def test_in_place_rows_are_restart_resources_and_networks() -> None:
    assert {k for k, row in RULES.items() if row.update is Update.IN_PLACE} == {
        "restart", "resources", "networks"}


def test_the_table_declares_the_kinds() -> None:
    kinds = {k: row.kind for k, row in RULES.items()}
    assert kinds["env"] is Kind.KEYS and kinds["labels"] is Kind.KEYS
    assert kinds["networks"] is Kind.KEYS and kinds["ports"] is Kind.SET
    assert kinds["healthcheck"] is Kind.IMAGE_DEFAULT and kinds["name"] is Kind.IGNORE


def test_image_defaults_do_not_count_as_changes() -> None:
    want = desired(env=(("A", "1"),), labels=(("z", "1"), ("a", "2")),
                   ports=(PortBinding(80, "tcp", "", 8080),),
                   networks=(NetworkAttach("n", ("x", "y")),))
    runtime_view = converged(
        want, env=(("LANG", "C"), ("A", "1"), ("PATH", "/bin")),
        labels=(("a", "2"), ("vendor", "v"), ("z", "1"), (LABEL_HASH, "h")),
        ports=(PortBinding(80, "tcp", "0.0.0.0", 8080),),
        networks=(NetworkAttach("n", ("y", "x")),))
    assert compare(want, runtime_view, IMAGE) == []


def test_a_hostname_set_then_dropped_is_a_change() -> None:
    """Unset is the runtime's own hostname (reported as None): an old one is a change."""
    have = converged(desired(hostname="custom"))
    assert [c.field for c in compare(desired(), have, IMAGE)] == ["hostname"]
    assert compare(desired(), converged(desired()), IMAGE) == []


def test_entrypoint_override_drops_the_image_command() -> None:
    assert expected(desired(entrypoint=("/run",)), IMAGE).command is None
    assert expected(desired(), IMAGE).command == ("sh",)


def test_a_healthcheck_without_timings_gets_the_images() -> None:
    want = desired(healthcheck=HealthSpec(("CMD", "false")))
    assert expected(want, IMAGE).healthcheck == HealthSpec(("CMD", "false"), interval=5.0)
    assert compare(want, converged(want), IMAGE) == []


def test_changes_have_field_paths_and_update_kinds() -> None:
    want = desired(env=(("A", "2"),), restart=RestartSpec("always"))
    have = expected(desired(env=(("A", "1"), ("OLD", "x"))), IMAGE)
    changes = {c.field: c for c in compare(want, live(have), IMAGE)}
    assert set(changes) == {"env.A", "env.OLD", "restart"}
    assert changes["env.OLD"].verb == "removed"
    assert changes["restart"].in_place and not changes["env.A"].in_place


def test_secret_env_values_are_masked() -> None:
    want = desired(frozenset({"PW"}), env=(("PW", "new"), ("A", "2")))
    have = converged(desired(env=(("PW", "old"), ("A", "1"))))
    changes = {c.field: c for c in compare(want, have, IMAGE)}
    assert changes["env.PW"].secret and changes["env.PW"].to_json()["new"] == "***"
    assert not changes["env.A"].secret


def test_own_labels_are_not_compared() -> None:
    want = desired(labels=(("io.dockwright.project", "p"),))
    have = converged(want, labels=(("io.dockwright.project", "q"), ("vendor", "v")))
    assert compare(want, have, IMAGE) == []


NETWORKS = [  # (desired, live, expected (field, old, new))
    ((NetworkAttach("front", ("web",)),), (), [("networks.front", None, "[web]")]),
    ((), (NetworkAttach("back"),), [("networks.back", "[]", None)]),
    ((NetworkAttach("front", ("web", "www")),), (NetworkAttach("front", ("web",)),),
     [("networks.front.aliases", "[web]", "[web, www]")]),
    ((NetworkAttach("a"), NetworkAttach("b", ("x",))), (NetworkAttach("b"), NetworkAttach("c")),
     [("networks.a", None, "[]"), ("networks.b.aliases", "[]", "[x]"), ("networks.c", "[]", None)]),
]


@pytest.mark.parametrize(("want", "have", "fields"), NETWORKS)
def test_network_membership_and_aliases_change_in_place(
        want: tuple[NetworkAttach, ...], have: tuple[NetworkAttach, ...],
        fields: list[tuple[str, str | None, str | None]]) -> None:
    changes = compare(desired(networks=want), converged(desired(networks=have)), IMAGE)
    assert [(c.field, c.old, c.new) for c in changes] == fields
    assert all(c.in_place and in_place_field(c.field) for c in changes)


@pytest.mark.parametrize(("field", "answer"), [
    ("networks.front", True), ("networks.front.aliases", True), ("networks.a.b", True),
    ("restart", True), ("resources", True), ("env.A", False), ("labels.x", False),
    ("ports", False), ("secret[pw]", False), ("spec-hash", False), ("image_id", False)])
def test_in_place_field(field: str, answer: bool) -> None:
    assert in_place_field(field) is answer


def test_a_lifted_limit_needs_a_recreate_a_changed_one_does_not() -> None:
    have = converged(desired(resources=ResourceSpec(memory=64 << 20, cpus=0.5)))
    lowered = compare(desired(resources=ResourceSpec(memory=32 << 20, cpus=0.5)), have, IMAGE)
    lifted = compare(desired(resources=ResourceSpec(cpus=0.5)), have, IMAGE)
    assert [(c.field, c.in_place) for c in lowered] == [("resources", True)]
    assert [(c.field, c.in_place) for c in lifted] == [("resources", False)]


def test_stop_timeout_is_compared_as_the_whole_seconds_docker_keeps() -> None:
    assert compare(desired(stop_timeout=2.5), converged(desired(), stop_timeout=3.0),
                   IMAGE) == []
    assert compare(desired(), converged(desired(), stop_timeout=10.0), IMAGE) == []
    [change] = compare(desired(), converged(desired(), stop_timeout=3.0), IMAGE)
    assert (change.field, change.old, change.new) == ("stop_timeout", "3s", "10s")


def test_values_are_shown_in_their_display_form() -> None:
    want = desired(ports=(PortBinding(80, "TCP", "", 8080),), command=("a", "b"))
    have = converged(desired(), ports=(PortBinding(81, "tcp", "0.0.0.0", None),))
    changes = {c.field: c for c in compare(want, have, IMAGE)}
    assert changes["ports"].render() == "ports: [81/tcp] -> [8080:80/tcp]"
    assert changes["command"].render() == "command: [sh] -> [a, b]"


def test_an_unknown_image_leaves_what_the_spec_does_not_set_uncompared() -> None:
    want = desired(workdir="/app", env=(("A", "1"),))
    have = converged(desired(env=(("A", "2"),)), workdir="/srv")  # image env, labels, user...
    assert [c.field for c in compare(want, have, None)] == ["env.A", "workdir"]
