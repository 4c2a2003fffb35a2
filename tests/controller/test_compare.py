"""The comparison rules: image defaults merged in, orders and formats ignored."""

from __future__ import annotations

import dataclasses

from controller.desired.state import DesiredContainer, DesiredImage
from controller.planning.compare import RULES, Update, compare, expected
from runtime.types import (
    ContainerConfig,
    ContainerInfo,
    ContainerSummary,
    HealthSpec,
    ImageInfo,
    NetworkAttach,
    PortBinding,
    RestartSpec,
    State,
)

IMAGE = ImageInfo(id="sha256:x", env=(("PATH", "/bin"), ("LANG", "C")), command=("sh",),
                  workdir="/srv", user="app", labels=(("vendor", "v"),),
                  healthcheck=HealthSpec(("CMD", "true"), interval=5.0))


def desired(**fields: object) -> DesiredContainer:
    config = ContainerConfig(name="a", image="img:1", **fields)  # type: ignore[arg-type]
    return DesiredContainer("a", "a", 1, "a.toml", config, DesiredImage("img:1", "ref"))


def live(config: ContainerConfig) -> ContainerInfo:
    return ContainerInfo(ContainerSummary("id", "a", "sha256:x", State.RUNNING), config)


def test_rules_table_is_complete_and_only_restart_resources_are_in_place() -> None:
    assert set(RULES) == {f.name for f in dataclasses.fields(ContainerConfig)}
    assert {k for k, (_, u) in RULES.items() if u is Update.IN_PLACE} == {"restart", "resources"}


def test_image_defaults_do_not_count_as_changes() -> None:
    want = desired(env=(("A", "1"),), labels=(("z", "1"), ("a", "2")),
                   ports=(PortBinding(80, "tcp", "", 8080),),
                   networks=(NetworkAttach("n", ("x", "y")),))
    runtime_view = dataclasses.replace(
        expected(want, IMAGE), env=(("LANG", "C"), ("A", "1"), ("PATH", "/bin")),
        labels=(("a", "2"), ("vendor", "v"), ("z", "1")),
        ports=(PortBinding(80, "tcp", "0.0.0.0", 8080),),
        networks=(NetworkAttach("n", ("y", "x")),), hostname="abc123")
    assert compare(want, live(runtime_view), IMAGE) == []


def test_entrypoint_override_drops_the_image_command() -> None:
    want = desired(entrypoint=("/run",))
    assert expected(want, IMAGE).command is None
    assert expected(desired(), IMAGE).command == ("sh",)


def test_changes_have_field_paths_and_update_kinds() -> None:
    want = desired(env=(("A", "2"),), restart=RestartSpec("always"))
    have = dataclasses.replace(expected(desired(env=(("A", "1"), ("OLD", "x"))), IMAGE))
    changes = {c.field: c for c in compare(want, live(have), IMAGE)}
    assert set(changes) == {"env.A", "env.OLD", "restart"}
    assert changes["env.OLD"].verb == "removed"
    assert changes["restart"].in_place and not changes["env.A"].in_place
