"""The host-level keys of issue 12: their normal forms and their located errors.

Pure: spec files in ``tmp_path`` loaded with ``specs.loader.load_dir``. What the
models normalise (capabilities, exposed ports, ulimits, devices, port ranges,
``healthcheck.disable``), what a single key refuses, and the errors that need the
container's other keys or other containers (``specs.hostchecks``): each one on
the line of the key at fault, with the fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from specs.loader import load_dir
from specs.models import Container


def load(tmp_path: Path, text: str, runtime: str | None = None) -> dict[str, Container] | str:
    (tmp_path / "a.toml").write_text(text)
    specs = load_dir(tmp_path, environ={}, runtime=runtime)
    if not specs.ok:
        return "\n".join(e.format() for e in specs.all_errors())
    out = {}
    for res in specs.resources("container"):
        assert isinstance(res.spec, Container)
        out[res.name] = res.spec
    return out


def one(tmp_path: Path, body: str) -> Container | str:
    found = load(tmp_path, f'[container.web]\nimage = "busybox"\n{body}\n')
    return found if isinstance(found, str) else found["web"]


def test_short_forms_are_normalised(tmp_path: Path) -> None:
    spec = one(tmp_path, '\n'.join([
        'cap_add = ["net_admin", "CAP_SYS_TIME", "NET_ADMIN"]',
        'expose = ["9000/udp", 8080, "7000-7001"]',
        'ulimits = { nproc = 100, nofile = { soft = 10, hard = 20 } }',
        'devices = ["/dev/fuse", "/dev/sda:/dev/xvda:r"]',
        'ports = ["127.0.0.1:8000-8002:9000-9002/udp"]',
        'sysctls = { "net.core.somaxconn" = 1024 }',
        'logging = { options = { max-file = 3 } }',
        'healthcheck = { disable = true }',
        'resources = { memory = "64m", memory_swap = -1, cpuset = "0,1" }']))
    assert isinstance(spec, Container), spec
    assert spec.cap_add == ("NET_ADMIN", "SYS_TIME")
    assert spec.expose == ("7000/tcp", "7001/tcp", "8080/tcp", "9000/udp")
    assert (spec.ulimits["nproc"].soft, spec.ulimits["nproc"].hard) == (100, 100)
    assert [(d.host, d.container, d.permissions) for d in spec.devices] == [
        ("/dev/fuse", None, "rwm"), ("/dev/sda", "/dev/xvda", "r")]
    assert [(p.ip, p.host, p.container, p.protocol) for p in spec.ports] == [
        ("127.0.0.1", 8000 + i, 9000 + i, "udp") for i in range(3)]
    assert spec.sysctls == {"net.core.somaxconn": "1024"}
    assert spec.logging is not None and spec.logging.options == {"max-file": "3"}
    assert spec.healthcheck is not None and spec.healthcheck.disable
    assert spec.resources.memory_swap == -1


@pytest.mark.parametrize(("body", "expected"), [
    ('cap_add = ["net admin"]', "invalid capability"),
    ('ulimits = { nofiles = 1 }', "unknown ulimit 'nofiles'"),
    ('ulimits = { nofile = { soft = 3, hard = 2 } }', "above the hard limit"),
    ('devices = ["dev/fuse"]', "must be absolute"),
    ('devices = ["/dev/fuse:/dev/fuse:rwx"]', "invalid device permissions"),
    ('extra_hosts = { "db" = "10.0.0" }', "invalid ip address"),
    ('dns = ["one.one"]', "invalid ip address"),
    ('network_mode = "bridged"', 'use "host", "none", "bridge" or "container:NAME"'),
    ('ipc = "container:"', "invalid ipc"),
    ('mac_address = "02:42"', "invalid mac_address"),
    ('oom_score_adj = 1001', "less than or equal to 1000"),
    ('tmpfs = ["tmp"]', "invalid tmpfs"),
    ('ports = ["8000-8002:80"]', "must hold as many ports"),
    ('resources = { cpuset = "0-" }', "invalid cpuset"),
    ('healthcheck = { disable = true, test = ["CMD", "true"] }', "either disable"),
    ('healthcheck = { interval = "5s" }', "needs a test"),
    ('security_opt = ["seccomp=profile.json"]', "seccomp profile file is not read"),
])
def test_a_bad_value_is_refused_with_its_fix(tmp_path: Path, body: str, expected: str) -> None:
    text = one(tmp_path, body)
    assert isinstance(text, str) and expected in text, text
    assert "a.toml:3: container.web." in text, text


def _errors(tmp_path: Path, text: str, runtime: str | None = None) -> list[str]:
    found = load(tmp_path, text, runtime)
    assert isinstance(found, str), "expected errors"
    return found.splitlines()


def test_network_mode_conflicts_are_located_at_the_key_at_fault(tmp_path: Path) -> None:
    lines = _errors(tmp_path, '\n'.join([
        '[container.db]', 'image = "busybox"', '',
        '[container.web]', 'image = "busybox"', 'network_mode = "container:db"',
        'ports = ["8080:80"]',  # line 7
        'networks = ["default"]',
        'links = ["db"]',
        'hostname = "web"',  # line 10
        'dns = ["1.1.1.1"]',
        'expose = ["80"]',
        '',
        '[container.hostnet]', 'image = "busybox"', 'network_mode = "host"',
        'mac_address = "02:42:ac:11:00:02"',  # line 17
        'sysctls = { "net.core.somaxconn" = "1" }',
        '', '[container.client]', 'image = "busybox"', 'links = ["hostnet"]']))
    assert lines == [
        'a.toml:7: container.web.ports[0]: network_mode = "container:db" publishes no port'
        ' — remove it, or remove network_mode',
        'a.toml:8: container.web.networks.default: network_mode = "container:db" joins no '
        'other network — remove networks, or remove network_mode',
        'a.toml:9: container.web.links[0]: network_mode = "container:db": links are aliases '
        'on the project network, which this container is not on — remove it, or remove '
        'network_mode',
        'a.toml:10: container.web.hostname: network_mode = "container:db" shares that '
        "container's network namespace, with its hostname — set hostname on that container "
        'instead',
        'a.toml:11: container.web.dns: network_mode = "container:db" shares that container\'s '
        'network namespace, with its dns — set dns on that container instead',
        'a.toml:12: container.web.expose: network_mode = "container:db" shares that '
        "container's network namespace, with its expose — set expose on that container "
        'instead',
        'a.toml:17: container.hostnet.mac_address: network_mode = "host" has the host\'s MAC '
        'addresses — remove mac_address',
        'a.toml:18: container.hostnet.sysctls."net.core.somaxconn": network_mode = "host": the '
        "sysctl net.core.somaxconn would change the host's network settings (Docker refuses "
        'it) — remove it, or set it on the host',
        "a.toml:22: container.client.links[0]: container 'hostnet' sets network_mode: it is "
        'on no project network, so no alias can reach it — remove this link, or the '
        'network_mode of hostnet',
    ]


def test_container_modes_name_a_declared_container(tmp_path: Path) -> None:
    lines = _errors(tmp_path, '\n'.join([
        '[container.web]', 'image = "busybox"', 'network_mode = "container:webb"',
        'pid = "container:web"', '',
        '[container.side]', 'image = "busybox"', 'ipc = "container:web"',
        'state = "running"', '',
        '[container.gone]', 'image = "busybox"', 'state = "absent"',
        'network_mode = "container:side"', '',
        '[container.late]', 'image = "busybox"', 'pid = "container:gone"']))
    assert lines[0] == ("a.toml:3: container.web.network_mode: network_mode = "
                        "\"container:webb\": container 'webb' is not declared in this spec "
                        "directory — did you mean 'container:web'?")
    assert lines[1] == ('a.toml:4: container.web.pid: pid = "container:web" names this '
                        "container itself — name another declared container")
    assert any("a.toml:18: container.late.pid: container 'gone' is declared with state = "
               '"absent"' in line for line in lines), lines


def test_container_modes_are_dependency_edges(tmp_path: Path) -> None:
    lines = _errors(tmp_path, '\n'.join([
        '[container.aa]', 'image = "busybox"', 'network_mode = "container:bb"', '',
        '[container.bb]', 'image = "busybox"', 'depends_on = ["aa"]']))
    assert any("dependency cycle: aa -> bb -> aa" in line for line in lines), lines


def test_tmpfs_and_memory_clashes(tmp_path: Path) -> None:
    lines = _errors(tmp_path, '\n'.join([
        '[container.web]', 'image = "busybox"',
        'volumes = [{ type = "tmpfs", target = "/run" }]',
        'tmpfs = ["/run", "/tmp", "/tmp:size=1m"]',
        'resources = { memory_swap = "1g", reservations = { memory = "1g" } }', '',
        '[container.db]', 'image = "busybox"',
        'resources = { memory = "64m", memory_swap = "32m", reservations = { memory = "1g" } }']))
    assert lines == [
        "a.toml:4: container.web.tmpfs[0]: tmpfs '/run' is also mounted by volumes[0] — keep "
        "one of them",
        "a.toml:4: container.web.tmpfs[2]: tmpfs '/tmp' is given twice — keep one entry per "
        "path",
        "a.toml:5: container.web.resources.memory_swap: memory_swap limits memory + swap, but "
        "no memory limit is set — set resources.memory too",
        "a.toml:9: container.db.resources.memory_swap: memory_swap (33554432 bytes) is below "
        "the memory limit (67108864 bytes): it counts memory + swap — make it at least "
        "resources.memory, or -1 for unlimited swap",
        "a.toml:9: container.db.resources.reservations.memory: the memory reservation "
        "(1073741824 bytes) is above the memory limit (67108864 bytes) — lower the "
        "reservation or raise resources.memory",
    ]


def test_cpu_reservations_are_swarm_only(tmp_path: Path) -> None:
    text = '[container.web]\nimage = "busybox"\nresources = { reservations = { cpus = 0.5 } }\n'
    for runtime in ("docker", "native"):
        lines = _errors(tmp_path, text, runtime)
        assert lines == [
            f"a.toml:3: container.web.resources.reservations.cpus: not supported by the "
            f"{runtime} runtime (only swarm supports it) — only Swarm schedules by CPU "
            "reservation; use resources.cpu_shares (a relative CPU weight) on this runtime"]
    assert isinstance(load(tmp_path, text, "swarm"), dict)
