"""``runtime.docker.hostconfig``: the host-level fields into a create body and back.

Pure (API JSON in and out). A config that sets every host-level field comes
back equal from an inspect that holds what the create body sent; Docker's own
forms are read back canonically (``cap_add`` as sent in any case, with or
without ``CAP_``; a ``container:<id>`` mode named again; ``NetworkMode``
``default`` or a network's name as no mode); the daemon is asked for its
default log driver only for a container with another driver than
``json-file``; a ``volumes`` tmpfs mount and a ``tmpfs`` entry share
``HostConfig.Tmpfs`` and are told apart by their options. The daemon's real
answers are checked in ``tests/integration/test_host_keys.py``.
"""

from __future__ import annotations

from typing import Any

from runtime.docker.convert import container_info, create_body
from runtime.types import (
    ContainerConfig,
    DeviceSpec,
    MountSpec,
    NetworkAttach,
    ResourceSpec,
    UlimitSpec,
)

ID = "ab" * 32
FULL = ContainerConfig(
    name="web", image="img:1", init=False, cap_add=("NET_ADMIN", "SYS_TIME"),
    cap_drop=("MKNOD",), privileged=True, devices=(DeviceSpec("/dev/fuse", "/dev/fuse", "rw"),),
    extra_hosts=(("db.local", "10.0.0.5"), ("v6", "::1")), dns=("8.8.8.8", "1.1.1.1"),
    dns_search=("example.com",), dns_opt=("ndots:2",),
    ulimits=(UlimitSpec("nofile", 1024, 2048), UlimitSpec("nproc", 10, 10)),
    sysctls=(("net.core.somaxconn", "1024"),), log_driver="syslog",
    log_options=(("tag", "web"),), security_opt=("no-new-privileges",), read_only=True,
    shm_size=1 << 20, tmpfs=(("/run", ""), ("/tmp", "size=64m,mode=1777")),
    mounts=(MountSpec("tmpfs", "/cache", size=4096),), group_add=("1234",),
    network_mode="container:db", pid_mode="host", ipc_mode="shareable",
    expose=("8080/tcp", "9000/udp"), domainname="example.com", mac_address="02:42:ac:11:00:02",
    oom_score_adj=-500, resources=ResourceSpec(memory=64 << 20, memory_swap=96 << 20,
                                               cpu_shares=512, cpuset="0-1",
                                               memory_reservation=32 << 20))


def inspect_of(body: dict[str, Any], **host: Any) -> dict[str, Any]:
    """What the daemon reports for a container made from ``body`` (``host``: its edits)."""
    config = {k: v for k, v in body.items() if k not in ("HostConfig", "NetworkingConfig")}
    return {"Id": ID, "Name": "/web", "Config": config,
            "HostConfig": {**body["HostConfig"], **host}, "State": {"Status": "created"}}


def test_every_host_field_comes_back_equal() -> None:
    body = create_body(FULL)
    assert "NetworkingConfig" not in body, "another container's network namespace: no network"
    asked: list[str] = []

    def log_default() -> str:
        asked.append("info")
        return "json-file"

    info = container_info(inspect_of(body, NetworkMode=f"container:{'cd' * 32}"),
                          resolve=lambda cid: "db" if cid == "cd" * 32 else cid,
                          log_default=log_default)
    assert info.config == FULL
    assert info.log_default == "json-file" and asked == ["info"]


def test_docker_forms_are_read_canonically() -> None:
    body = create_body(ContainerConfig("web", "img:1", networks=(NetworkAttach("proj_default"),)))
    host = {"CapAdd": ["net_admin", "CAP_SYS_TIME"], "CapDrop": ["cap_mknod"],
            "LogConfig": {"Type": "json-file", "Config": {}}, "IpcMode": "private",
            "ShmSize": 64 << 20, "OomScoreAdj": 0, "Tmpfs": {"/a": "rw", "/b": "ro,size=9",
                                                            "/c": "size=1m"}}
    asked: list[str] = []
    info = container_info(inspect_of(body, **host), log_default=lambda: asked.append("x") or "")
    c = info.config
    assert (c.cap_add, c.cap_drop) == (("NET_ADMIN", "SYS_TIME"), ("MKNOD",))
    assert c.network_mode is None and c.networks == ()  # no endpoint in this inspect
    assert (c.log_driver, c.log_options, info.log_default) == ("json-file", (), "json-file")
    assert asked == [], "json-file containers need no docker info"
    assert (c.ipc_mode, c.shm_size, c.oom_score_adj) == ("private", 64 << 20, None)
    assert c.mounts == (MountSpec("tmpfs", "/a"), MountSpec("tmpfs", "/b", read_only=True,
                                                            size=9))
    assert c.tmpfs == (("/c", "size=1m"),)


def test_unset_fields_send_nothing() -> None:
    host = create_body(ContainerConfig("web", "img:1"))["HostConfig"]
    assert set(host) == {"PortBindings", "Mounts", "Binds", "Tmpfs", "VolumesFrom",
                         "RestartPolicy"}, "every server default is the daemon's"
