"""The comparison rows of the host-level fields (``controller.planning.hostrules``).

Pure: a desired container against a live config as the Docker daemon reports
it. What the daemon fills in when the spec leaves a field unset (a 64 MiB
``/dev/shm``, the IPC mode ``private``/``shareable``, its default log driver
with its default options, ``label=disable`` for a privileged container, the
image's exposed ports, a ``tmpfs`` entry read back as a mount) is no change;
a change of each field is reported under its own name and recreates, except
the resources that Docker updates in place; lifting a CPU weight, set or
reservation recreates (an update cannot take it away).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from controller.desired.naming import LABEL_ASKED
from controller.planning.compare import RULES, compare, expected
from controller.planning.hostrules import ROWS
from runtime.types import (
    LABEL_MANAGED_BY,
    ContainerConfig,
    ContainerInfo,
    ContainerSummary,
    DeviceSpec,
    ImageInfo,
    MountSpec,
    ResourceSpec,
    State,
    UlimitSpec,
)
from tests.controller.helpers import converge, fake, plan_of, rows, write
from tests.controller.test_compare import desired
from tests.controller.test_hash_golden import HOST_KEYS

IMAGE = ImageInfo(id="sha256:x", command=("sh",), exposed_ports=("80/tcp",))
MIB = 1024 * 1024


def docker_view(want: ContainerConfig, log_default: str = "json-file",
                **fields: object) -> ContainerInfo:
    """``want`` as the daemon reports it, with its defaults filled in and ``fields``."""
    config = dataclasses.replace(expected(desired(**_fields(want)), IMAGE), **fields)  # type: ignore[arg-type]
    return ContainerInfo(ContainerSummary("id", "a", "sha256:x", State.RUNNING), config,
                         log_default=log_default)


def _fields(config: ContainerConfig) -> dict[str, object]:
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
            if f.name not in ("name", "image")}


def changes(want: ContainerConfig, have: ContainerInfo) -> dict[str, bool]:
    """field -> in place, of every change."""
    return {c.field: c.in_place for c in compare(desired(**_fields(want)), have, IMAGE)}


PLAIN = ContainerConfig("a", "img:1")
DEFAULTS = dict(shm_size=64 * MIB, ipc_mode="private", log_driver="json-file",
                log_options=(("max-size", "5m"),), expose=("80/tcp",))


def test_every_host_field_has_a_row_in_the_table() -> None:
    assert all(RULES[name] is row for name, row in ROWS.items())
    assert set(ROWS) <= {f.name for f in dataclasses.fields(ContainerConfig)}


def test_what_the_daemon_fills_in_is_no_change() -> None:
    assert changes(PLAIN, docker_view(PLAIN, **DEFAULTS)) == {}
    assert changes(PLAIN, docker_view(PLAIN, **{**DEFAULTS, "ipc_mode": "shareable"})) == {}
    privileged = dataclasses.replace(PLAIN, privileged=True, pid_mode="host")
    assert changes(privileged, docker_view(privileged, security_opt=("label=disable",))) == {}
    own = dataclasses.replace(PLAIN, log_options=(("max-file", "3"),))
    assert changes(own, docker_view(own, log_options=(("max-file", "3"), ("max-size", "5m")))
                   ) == {}, "the daemon's own options join a container of its default driver"
    journald = docker_view(PLAIN, log_default="journald", log_driver="journald")
    assert changes(PLAIN, journald) == {}


def test_a_tmpfs_entry_read_back_as_a_mount_is_the_same_entry() -> None:
    want = dataclasses.replace(PLAIN, tmpfs=(("/run", "rw"), ("/t", "rw,size=1024")))
    have = docker_view(want, tmpfs=(), mounts=(MountSpec("tmpfs", "/run"),
                                               MountSpec("tmpfs", "/t", size=1024)))
    assert changes(want, have) == {}
    assert changes(want, docker_view(want, tmpfs=(("/run", "rw"),), mounts=(
        MountSpec("tmpfs", "/t", read_only=True, size=1024),))) == {"tmpfs./t": False}


CHANGED: list[tuple[dict[str, object], str]] = [
    ({"init": True}, "init"),
    ({"cap_add": ("NET_ADMIN",)}, "cap_add"),
    ({"cap_drop": ("MKNOD",)}, "cap_drop"),
    ({"privileged": True}, "privileged"),
    ({"devices": (DeviceSpec("/dev/fuse", "/dev/fuse"),)}, "devices"),
    ({"extra_hosts": (("db", "10.0.0.5"),)}, "extra_hosts.db"),
    ({"dns": ("1.1.1.1",)}, "dns"),
    ({"dns_search": ("example.com",)}, "dns_search"),
    ({"dns_opt": ("ndots:2",)}, "dns_opt"),
    ({"ulimits": (UlimitSpec("nofile", 1, 2),)}, "ulimits.nofile"),
    ({"sysctls": (("net.core.somaxconn", "1"),)}, "sysctls.net.core.somaxconn"),
    ({"log_driver": "syslog"}, "log_driver"),
    ({"log_driver": "syslog", "log_options": (("tag", "x"),)}, "log_driver"),
    ({"security_opt": ("no-new-privileges",)}, "security_opt"),
    ({"read_only": True}, "read_only"),
    ({"shm_size": MIB}, "shm_size"),
    ({"tmpfs": (("/run", ""),)}, "tmpfs./run"),
    ({"group_add": ("1234",)}, "group_add"),
    ({"network_mode": "host"}, "network_mode"),
    ({"pid_mode": "host"}, "pid_mode"),
    ({"ipc_mode": "host"}, "ipc_mode"),
    ({"expose": ("8080/tcp",)}, "expose"),
    ({"domainname": "example.com"}, "domainname"),
    ({"mac_address": "02:42:ac:11:00:02"}, "mac_address"),
    ({"oom_score_adj": 500}, "oom_score_adj"),
]


@pytest.mark.parametrize(("fields", "field"), CHANGED, ids=[f for _, f in CHANGED])
def test_a_change_of_each_field_recreates_both_ways(fields: dict[str, object],
                                                    field: str) -> None:
    """Set where the live container has the daemon's default, and taken away again."""
    have = docker_view(PLAIN, **DEFAULTS)
    want = dataclasses.replace(PLAIN, **fields)  # type: ignore[arg-type]
    assert changes(want, have) == {name: False for name in _named(field, fields)}
    # the daemon merges its default log options into containers of its default driver only
    own = {**DEFAULTS, "log_options": ()} if "log_driver" in fields else DEFAULTS
    live_set = docker_view(want, **{**own, **fields})
    assert changes(want, live_set) == {}
    assert changes(PLAIN, live_set) == {name: False for name in _named(field, fields)}


def _named(field: str, fields: dict[str, object]) -> list[str]:
    """The changes a case makes: its field, and each log option it sets."""
    options = fields.get("log_options") if field == "log_driver" else ()
    return [field, *(f"log_options.{key}" for key, _ in options or ())]  # type: ignore[attr-defined]


def test_log_options_of_the_default_driver_are_compared_by_the_specs_names() -> None:
    """The daemon's own default options (``log-opts``, not in ``docker info``) are merged
    into every container of its default driver: only the options a spec names count."""
    want = dataclasses.replace(PLAIN, log_options=(("max-size", "1m"),))
    assert changes(want, docker_view(PLAIN, **DEFAULTS)) == {"log_options.max-size": False}
    assert changes(want, docker_view(want, log_options=(("max-file", "2"),
                                                         ("max-size", "1m")))) == {}


def test_resources_change_in_place_and_lifting_recreates() -> None:
    want = dataclasses.replace(PLAIN, resources=ResourceSpec(
        memory=64 * MIB, memory_swap=96 * MIB, cpu_shares=512, cpuset="0",
        memory_reservation=32 * MIB))
    have = docker_view(want, **DEFAULTS)
    assert changes(want, have) == {}
    for update in ({"cpu_shares": 256}, {"cpuset": "0-1"}, {"memory_reservation": MIB},
                   {"memory_swap": 128 * MIB}, {"memory_swap": None}):
        other = dataclasses.replace(want, resources=dataclasses.replace(
            want.resources, **update))  # type: ignore[arg-type]
        assert changes(other, have) == {"resources": True}, update
    for lifted in ("cpu_shares", "cpuset", "memory_reservation"):
        other = dataclasses.replace(want, resources=dataclasses.replace(
            want.resources, **{lifted: None}))  # type: ignore[arg-type]
        assert changes(other, have) == {"resources": False}, lifted


def test_unset_log_driver_against_a_non_default_one_is_a_change() -> None:
    assert changes(PLAIN, docker_view(PLAIN, log_driver="syslog")) == {"log_driver": False}
    assert changes(PLAIN, docker_view(PLAIN, log_default="journald", log_driver="json-file")
                   ) == {"log_driver": False}
    assert changes(PLAIN, docker_view(PLAIN, log_driver="syslog", log_options=(
        ("tag", "x"),))) == {"log_driver": False, "log_options.tag": False}


def test_label_disable_only_counts_where_docker_does_not_add_it() -> None:
    assert changes(PLAIN, docker_view(PLAIN, security_opt=("label=disable",))) == {
        "security_opt": False}
    ipc = dataclasses.replace(PLAIN, ipc_mode="host")
    assert changes(ipc, docker_view(ipc, security_opt=("label=disable",))) == {}


def test_the_image_exposed_ports_join_the_specs() -> None:
    want = dataclasses.replace(PLAIN, expose=("8080/tcp",))
    assert changes(want, docker_view(want, expose=("80/tcp", "8080/tcp"))) == {}
    assert changes(want, docker_view(want, expose=("80/tcp",))) == {"expose": False}


def test_the_fake_keeps_every_host_field_and_a_second_plan_is_empty(tmp_path: Path) -> None:
    """The planner's tests run on the fake: a spec with every host-level key converges
    there and plans nothing the second time; an in-place resource change stays in place."""
    driver = fake()
    root = write(tmp_path / "specs", HOST_KEYS)
    converge(root, driver)
    assert rows(plan_of(root, driver)) == []
    live = driver.inspect_container("hosty").config
    assert live.cap_add == ("NET_ADMIN",) and live.tmpfs == (("/run", ""), ("/tmp", "size=64m"))
    assert live.network_mode is None and driver.inspect_container("joined").config.network_mode \
        == "container:hosty"
    (root / "h.toml").write_text(HOST_KEYS["h.toml"].replace("cpu_shares = 512",
                                                             "cpu_shares = 256"))
    assert [(kind, name) for kind, name, _ in rows(plan_of(root, driver))] == [
        ("update", "hosty")]
    converge(root, driver)
    assert driver.inspect_container("hosty").config.resources.cpu_shares == 256
    assert rows(plan_of(root, driver)) == []


def test_a_shared_network_namespace_gives_its_names() -> None:
    """Docker reports the host's (or the other container's) host and domain name."""
    for mode in ("host", "container:db"):
        want = dataclasses.replace(PLAIN, network_mode=mode)
        assert changes(want, docker_view(want, hostname="vm", domainname="lan")) == {}
        named = dataclasses.replace(want, hostname="web")
        assert changes(named, docker_view(want, hostname="vm")) == {"hostname": False}
    assert changes(PLAIN, docker_view(PLAIN, hostname="vm", domainname="lan")) == {
        "hostname": False, "domainname": False}


def test_sizes_are_shown_as_a_spec_writes_them() -> None:
    have = docker_view(PLAIN, shm_size=64 * MIB)
    (change,) = compare(desired(shm_size=1536 * 1024), have, IMAGE)
    assert (change.field, change.old, change.new) == ("shm_size", "64m", "1536k")


def made_by_dockwright(want: ContainerConfig, asked: str | None, **fields: object
                       ) -> ContainerInfo:
    """``docker_view`` of a container dockwright made, with its ``LABEL_ASKED``."""
    info = docker_view(want, **fields)
    labels = {LABEL_MANAGED_BY: "dockwright", **({LABEL_ASKED: asked} if asked else {})}
    return dataclasses.replace(info, summary=dataclasses.replace(
        info.summary, labels=tuple(sorted(labels.items()))))


def test_what_a_container_was_made_with_tells_a_default_from_a_setting() -> None:
    # taken out of the spec: a change, though the value may be the daemon's default
    assert changes(PLAIN, made_by_dockwright(PLAIN, "ipc_mode", ipc_mode="shareable")) == {
        "ipc_mode": False}
    assert changes(PLAIN, made_by_dockwright(PLAIN, "log_options.max-size",
                                             log_options=(("max-size", "5m"),))) == {
        "log_options.max-size": False}
    # never asked: the daemon's own values, whatever they are (a default-shm-size of 1g)
    assert changes(PLAIN, made_by_dockwright(PLAIN, None, shm_size=1 << 30,
                                             ipc_mode="shareable",
                                             log_options=(("max-size", "5m"),))) == {}
    shm = dataclasses.replace(PLAIN, shm_size=32 * MIB)
    assert changes(PLAIN, made_by_dockwright(shm, "shm_size", shm_size=32 * MIB)) == {
        "shm_size": False}


def test_the_recipe_labels_what_the_daemon_could_have_filled_in(tmp_path: Path) -> None:
    driver = fake()
    root = write(tmp_path / "specs", HOST_KEYS)
    converge(root, driver)
    labels = dict(driver.inspect_container("hosty").summary.labels)
    assert labels[LABEL_ASKED] == "ipc_mode,log_options.max-size,shm_size"
    assert LABEL_ASKED not in dict(driver.inspect_container("joined").summary.labels)
