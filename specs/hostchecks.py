"""Checks of the host-level container keys against the container's other keys and others.

Role: the located errors of ``specs.hostmodels`` keys that one field cannot
see: ``network_mode`` with what it excludes (Docker's own rules: no
published port, network, link or alias on ``host``/``none``/``container:``,
no hostname, DNS, extra host, MAC address or exposed port in another
container's namespace, no MAC address on the host's network, no ``net.*``
sysctl there); ``container:NAME`` modes naming a declared container other
than itself (the ordering, cycles and ``absent`` targets follow from
``specs.validate``'s dependency edges); links to a container that is on no
project network; ``tmpfs`` paths given twice or also mounted by
``volumes``; memory + swap without a memory limit or below it; a memory
reservation above the memory limit. Each error names the fix. Neighbours:
called by ``specs.validate.check``; ``specs.hostmodels`` (the keys).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from specs.errors_format import close_match
from specs.hostmodels import container_target
from specs.locate import KeyPath
from specs.models import Container
from specs.result import Resource

Add = Callable[[str, KeyPath, str, str], None]  # file, key path, message, hint
MODE_KEYS = ("network_mode", "pid", "ipc")


def _uses_checked_keys(spec: Container, off_network: bool) -> bool:
    res = spec.resources
    return bool(spec.network_mode is not None or spec.pid is not None or spec.ipc is not None
                or spec.tmpfs or res.memory_swap is not None or res.reservations is not None
                or (off_network and spec.links))


def mode_edges(spec: Container) -> Iterator[tuple[str, KeyPath]]:
    """(container, key path) of each ``container:NAME`` mode: a dependency edge."""
    if spec.network_mode is None and spec.pid is None and spec.ipc is None:
        return
    for key in MODE_KEYS:
        target = container_target(getattr(spec, key))
        if target is not None:
            yield target, (key,)


def check(containers: list[Resource], declared: set[str], add: Add) -> None:
    """Every problem of the host-level keys of ``containers`` (``declared``: the names of
    every declared container)."""
    off_network = {r.name for r in containers
                   if isinstance(r.spec, Container) and r.spec.network_mode is not None}
    for res in containers:
        spec = res.spec
        assert isinstance(spec, Container)
        if not _uses_checked_keys(spec, bool(off_network)):
            continue  # most containers: nothing here to check
        error = _at(res, add)
        _modes(res.name, spec, declared, error)
        _network_mode(spec, error)
        for i, link in enumerate(spec.links):
            if link.target in off_network and link.target != res.name:
                error(("links", i), f"container {link.target!r} sets network_mode: it is on no "
                      "project network, so no alias can reach it",
                      f"remove this link, or the network_mode of {link.target}")
        _tmpfs(spec, error)
        _memory(spec, error)


Error = Callable[[KeyPath, str, str], None]  # key path below the container, message, hint


def _at(res: Resource, add: Add) -> Error:
    def error(path: KeyPath, message: str, hint: str) -> None:
        add(res.file, ("container", res.name, *path), message, hint)
    return error


def _modes(name: str, spec: Container, declared: set[str], error: Error) -> None:
    for target, path in mode_edges(spec):
        key = path[0]
        if target == name:
            error(path, f"{key} = \"container:{name}\" names this container itself",
                  "name another declared container")
        elif target not in declared:
            best = close_match(target, sorted(declared))
            error(path, f"{key} = \"container:{target}\": container {target!r} is not "
                  "declared in this spec directory",
                  f"did you mean 'container:{best}'?" if best
                  else f"declare it with [container.{target}]")


def _network_mode(spec: Container, error: Error) -> None:
    mode = spec.network_mode
    if mode is None:
        return
    shown = f"network_mode = \"{mode}\""
    fix = "remove it, or remove network_mode"
    if mode != "bridge":
        for i, _ in enumerate(spec.ports):
            error(("ports", i), f"{shown} publishes no port", fix if mode != "host" else
                  "remove it: on the host's network the container's ports are the host's")
    for net in spec.networks:
        error(("networks", net), f"{shown} joins no other network",
              "remove networks, or remove network_mode")
    for i, _ in enumerate(spec.links):
        error(("links", i), f"{shown}: links are aliases on the project network, which this "
              "container is not on", fix)
    if mode.startswith("container:"):
        taken = [("hostname", spec.hostname), ("domainname", spec.domainname),
                 ("dns", spec.dns), ("dns_search", spec.dns_search), ("dns_opt", spec.dns_opt),
                 ("extra_hosts", spec.extra_hosts), ("mac_address", spec.mac_address),
                 ("expose", spec.expose)]
        for key, value in taken:
            if value:
                error((key,), f"{shown} shares that container's network namespace, with its "
                      f"{key}", f"set {key} on that container instead")
    if mode == "host":
        if spec.mac_address:
            error(("mac_address",), f"{shown} has the host's MAC addresses",
                  "remove mac_address")
        for key in spec.sysctls:
            if key.startswith("net."):
                error(("sysctls", key), f"{shown}: the sysctl {key} would change the host's "
                      "network settings (Docker refuses it)", "remove it, or set it on the host")


def _tmpfs(spec: Container, error: Error) -> None:
    mounted = {m.target: i for i, m in enumerate(spec.volumes)}
    seen: set[str] = set()
    for i, item in enumerate(spec.tmpfs):
        path = item.partition(":")[0]
        if path in seen:
            error(("tmpfs", i), f"tmpfs {path!r} is given twice", "keep one entry per path")
        elif path in mounted:
            error(("tmpfs", i), f"tmpfs {path!r} is also mounted by volumes[{mounted[path]}]",
                  "keep one of them")
        seen.add(path)


def _memory(spec: Container, error: Error) -> None:
    res = spec.resources
    if res.memory_swap is not None:
        if res.memory is None:
            error(("resources", "memory_swap"), "memory_swap limits memory + swap, but no "
                  "memory limit is set", "set resources.memory too")
        elif res.memory_swap != -1 and res.memory_swap < res.memory:
            error(("resources", "memory_swap"), f"memory_swap ({res.memory_swap} bytes) is "
                  f"below the memory limit ({res.memory} bytes): it counts memory + swap",
                  "make it at least resources.memory, or -1 for unlimited swap")
    reserved = res.reservations.memory if res.reservations else None
    if reserved is not None and res.memory is not None and reserved > res.memory:
        error(("resources", "reservations", "memory"), f"the memory reservation ({reserved} "
              f"bytes) is above the memory limit ({res.memory} bytes)",
              "lower the reservation or raise resources.memory")
