"""Anonymous volumes (``controller.planning.anonymous``): which are carried, what compare sees.

Pure cases: an old container's anonymous volumes are carried to the image's
``VOLUME`` paths and to ``"/x"`` mounts, never over a named volume, bind or
tmpfs the spec declares there, nor over what ``volumes_from`` provides; the
carried mounts compare equal to the spec; the Docker driver reports the
volumes Docker named itself; ``down --volumes`` plans their removal.
"""

from __future__ import annotations

from controller.desired.state import DesiredContainer, DesiredImage
from controller.planning.anonymous import carry, live_mounts
from controller.planning.compare import compare
from controller.planning.observe import Observed
from controller.planning.plan import Kind, plan_down
from runtime.docker.convert import container_info
from runtime.types import (
    ContainerConfig,
    ContainerInfo,
    ContainerSummary,
    ImageInfo,
    MountSpec,
    State,
)

A = "a" * 64
B = "b" * 64
C = "c" * 64
IMAGE = ImageInfo(id="sha256:x", volumes=("/data", "/logs/"))


def _old(*anonymous: MountSpec, mounts: tuple[MountSpec, ...] = (),
         volumes_from: tuple[tuple[str, bool], ...] = ()) -> ContainerInfo:
    config = ContainerConfig(name="db", image="img", mounts=mounts, volumes_from=volumes_from)
    return ContainerInfo(ContainerSummary("id1", "db", "sha256:x", State.RUNNING), config,
                         anonymous_volumes=anonymous)


def _vol(target: str, source: str | None = None, read_only: bool = False) -> MountSpec:
    return MountSpec("volume", target, source, read_only)


def test_image_volume_paths_and_anonymous_mounts_are_carried() -> None:
    config = ContainerConfig(name="db", image="img", mounts=(_vol("/cache", read_only=True),))
    old = _old(_vol("/cache", A), _vol("/data", B), _vol("/logs", C))
    got = carry(config, old, IMAGE).mounts
    assert got == (_vol("/cache", A, read_only=True), _vol("/data", B), _vol("/logs", C))


def test_declared_mounts_win_and_other_paths_are_not_carried() -> None:
    config = ContainerConfig(name="db", image="img", mounts=(
        MountSpec("volume", "/data", "named"), MountSpec("tmpfs", "/logs")))
    old = _old(_vol("/data", A), _vol("/logs", B), _vol("/gone", C))
    assert carry(config, old, IMAGE).mounts == config.mounts  # /gone: not an image path


def test_volumes_from_targets_are_never_carried() -> None:
    config = ContainerConfig(name="db", image="img")
    old = _old(_vol("/data", A), _vol("/logs", B))
    assert carry(config, old, IMAGE, inherited=("/data",)).mounts == (_vol("/logs", B),)


def test_nothing_to_carry_leaves_the_config_as_it_is() -> None:
    config = ContainerConfig(name="db", image="img", mounts=(_vol("/cache"),))
    assert carry(config, _old(), IMAGE) is config


def _desired(*mounts: MountSpec) -> DesiredContainer:
    config = ContainerConfig(name="db", image="img", mounts=mounts)
    return DesiredContainer("db", "db", 1, "a.toml", config, DesiredImage("img", "img"))


def test_carried_mounts_are_no_drift_but_a_dropped_mount_is() -> None:
    carried = (_vol("/cache", A), _vol("/data", B))
    live = _old(_vol("/cache", A), _vol("/data", B), mounts=carried)
    assert live_mounts(live, (_vol("/cache"),), IMAGE) == (_vol("/cache"),)
    assert compare(_desired(_vol("/cache")), live, IMAGE) == []
    changes = compare(_desired(), live, IMAGE)  # "/cache" removed from the spec
    assert [c.field for c in changes] == ["mounts"]


def test_a_declared_volume_with_a_generated_looking_name_stays_itself() -> None:
    declared = MountSpec("volume", "/data", A)
    live = _old(declared, mounts=(declared,))
    assert live_mounts(live, (declared,), IMAGE) == (declared,)


def test_docker_reports_the_volumes_it_named_itself() -> None:
    data = {
        "Id": "f" * 64, "Name": "/db", "Config": {"Image": "img"},
        "HostConfig": {"Mounts": [{"Type": "volume", "Source": A, "Target": "/data"}]},
        "State": {"Status": "running"},
        "Mounts": [
            {"Type": "volume", "Name": A, "Destination": "/data", "RW": True},
            {"Type": "volume", "Name": B, "Destination": "/cache", "RW": False},
            {"Type": "volume", "Name": "named", "Destination": "/named", "RW": True},
            {"Type": "bind", "Source": "/srv", "Destination": "/srv", "RW": True},
        ],
    }
    info = container_info(data)
    assert info.anonymous_volumes == (_vol("/cache", B, read_only=True), _vol("/data", A))
    assert info.config.mounts == (_vol("/data", A),)


def test_down_with_volumes_removes_anonymous_volumes_after_the_containers() -> None:
    summary = ContainerSummary("id1", "db", "sha256:x", State.RUNNING)
    observed = Observed("t", containers={"db": summary})
    kept = plan_down(observed, anonymous={A: "db"})
    assert not [a for a in kept.actions if a.object == "volume"]
    plan = plan_down(observed, volumes=True, anonymous={A: "db"})
    removal = next(a for a in plan.actions if a.name == A)
    assert removal.kind is Kind.REMOVE_VOLUME and removal.depends_on == ("container:db",)
