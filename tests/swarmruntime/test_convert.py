"""``runtime.swarm.convert``: a desired service spec survives the trip through the API's
JSON, and a live spec as the server fills it in normalises to the desired one."""

from __future__ import annotations

from typing import Any

from runtime.swarm import convert
from runtime.swarm.spec import (
    FileRef,
    Placement,
    Resources,
    RestartPolicy,
    ServicePort,
    ServiceSpec,
    UpdatePolicy,
)
from runtime.types import HealthSpec, MountSpec, NetworkAttach, UlimitSpec

FULL = convert.canonical(ServiceSpec(
    name="web", image="busybox", command=("sleep", "1000"), entrypoint=("/bin/sh", "-c"),
    env=(("B", "2"), ("A", "1")), labels=(("io.dockwright.project", "p"),),
    container_labels=(("a", "b"),), workdir="/w", user="1000", hostname="h", tty=True,
    stdin_open=True, stop_signal="SIGINT", stop_grace=3.0,
    healthcheck=HealthSpec(("CMD", "true"), 1.0, 2.0, 3, 4.0),
    mounts=(MountSpec("volume", "/data", "vol"), MountSpec("tmpfs", "/t", None, False, 1024)),
    files=(FileRef("secret", "p_pw_0123456789ab", "pw"), FileRef("config", "p_c_1", "/etc/c")),
    networks=(NetworkAttach("p_default", ("db", "a")),), restart=RestartPolicy("none"),
    resources=Resources(64 << 20, 0.5, 100, 16 << 20, 0.25),
    placement=Placement(("node.role==worker",), ("spread=node.labels.zone",), 2),
    replicas=3, update=UpdatePolicy(2, 1.5, "rollback", 3.0, 0.1, "start-first"),
    rollback=UpdatePolicy(order="start-first"), endpoint_mode="dnsrr",
    ports=(ServicePort(80, 8080, "tcp", "host"), ServicePort(53, None, "udp")),
    init=True, cap_add=("NET_ADMIN", "ALL"), cap_drop=("MKNOD",),
    sysctls=(("net.core.somaxconn", "512"),), read_only=True,
    extra_hosts=(("db.local", "10.0.0.5"),), dns=("10.0.0.2", "10.0.0.1"),
    dns_search=("example.org",), dns_opt=("ndots:2",), group_add=("1234",),
    ulimits=(UlimitSpec("nproc", 10, 20), UlimitSpec("nofile", 1024, 2048)),
    log_driver="json-file", log_options=(("max-size", "1m"),)))


def test_round_trip_through_the_api_json() -> None:
    body = convert.to_api(FULL, {"p_pw_0123456789ab": "sid", "p_c_1": "cid"})
    body["TaskTemplate"]["Networks"][0]["Target"] = "netid"  # the server stores ids
    assert convert.from_api(body, {"netid": "p_default"}) == FULL
    assert body["TaskTemplate"]["ContainerSpec"]["Env"] == ["A=1", "B=2"]
    assert body["TaskTemplate"]["ContainerSpec"]["Secrets"][0]["SecretID"] == "sid"
    assert body["TaskTemplate"]["RestartPolicy"]["Condition"] == "none"
    assert body["TaskTemplate"]["ContainerSpec"]["StopGracePeriod"] == 3_000_000_000
    assert body["TaskTemplate"]["ContainerSpec"]["CapabilityAdd"] == ["ALL", "CAP_NET_ADMIN"]
    assert body["TaskTemplate"]["ContainerSpec"]["Hosts"] == ["10.0.0.5 db.local"]
    assert FULL.dns == ("10.0.0.2", "10.0.0.1")  # the resolver's order is kept


def test_server_defaults_and_client_additions_normalise_away() -> None:
    """What the server adds on create (and a client's digest pin) is no difference."""
    live: dict[str, Any] = {
        "Name": "x", "Labels": {},
        "TaskTemplate": {
            "ContainerSpec": {"Image": "busybox:latest@sha256:" + "0" * 64, "Init": False,
                              "DNSConfig": {}, "Isolation": "default",
                              "StopGracePeriod": 10_000_000_000},
            "Resources": {"Limits": {}, "Reservations": {}},
            "RestartPolicy": {"Condition": "any", "Delay": 5_000_000_000, "MaxAttempts": 0},
            "Placement": {}, "ForceUpdate": 0, "Runtime": "container"},
        "Mode": {"Replicated": {"Replicas": 1}},
        "UpdateConfig": {"Parallelism": 1, "FailureAction": "pause",
                         "Monitor": 5_000_000_000, "MaxFailureRatio": 0,
                         "Order": "stop-first"},
        "EndpointSpec": {"Mode": "vip"}}
    assert convert.from_api(live, {}) == convert.canonical(ServiceSpec("x", "busybox"))


def test_a_list_entry_without_defaults_reads_the_same() -> None:
    """``GET /services`` does not insert defaults: absent means the default."""
    bare = {"Name": "x", "TaskTemplate": {"ContainerSpec": {"Image": "busybox"}},
            "Mode": {"Replicated": {"Replicas": 1}}}
    assert convert.from_api(bare, {}) == convert.canonical(ServiceSpec("x", "busybox"))


def test_global_mode_has_no_replica_count() -> None:
    spec = convert.canonical(ServiceSpec("g", "busybox:1", mode="global", replicas=5))
    assert spec.replicas == 0
    assert convert.from_api(convert.to_api(spec), {}) == spec


def test_canonical_image() -> None:
    assert convert.canonical_image("busybox") == "busybox:latest"
    assert convert.canonical_image("reg:5000/app") == "reg:5000/app:latest"
    assert convert.canonical_image("reg:5000/app:2@sha256:" + "a" * 64) == "reg:5000/app:2"
    pinned = "app@sha256:" + "a" * 64
    assert convert.canonical_image(pinned) == pinned


def test_what_swarm_keeps_otherwise_is_canonical() -> None:
    """A zero monitor is Swarm's 5 s; log options alone go with json-file: both read back
    so, and a desired spec written that way must compare equal (no update loop)."""
    spec = convert.canonical(ServiceSpec("x", "busybox", update=UpdatePolicy(monitor=0.0),
                                         log_options=(("max-size", "1m"),)))
    body = convert.to_api(spec)
    body["UpdateConfig"].pop("Monitor")  # omitempty: a zero is not sent back
    assert convert.from_api(body, {}) == spec
    assert spec.update.monitor == 5.0 and spec.log_driver == "json-file"
