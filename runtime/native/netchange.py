"""Joining and leaving networks in place on the native runtime.

Role: ``connect_network`` / ``disconnect_network`` of ``runtime.driver.Driver``
for ``runtime.native``. A native container's network namespace lives as long
as the container (``runtime.native.containers`` creates it with the
container), so a change of networks is the container's record changed and
its endpoints wired again (``NetworkManager.attach`` accepts what exists and
unwires networks no longer listed), then /etc/hosts of the container and its
peers rewritten. The container keeps its id, its processes and its other
addresses. Neighbours: ``runtime.native.containers`` (records),
``runtime.native.etcfiles`` (the hosts refresh), ``runtime.native.net.manager`` (the wiring).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from runtime.errors import Conflict, NotFound
from runtime.native.containers import Containers
from runtime.native.records import Record
from runtime.types import NetworkAttach

Change = Callable[[tuple[NetworkAttach, ...], str], tuple[NetworkAttach, ...]]


def _rewire(containers: Containers, ref: str, change: Change) -> None:
    cid = containers.records.resolve(ref)
    with containers.records.hold(cid):
        rec = containers.records.read(cid)
        nets = change(rec.config.networks, rec.name)
        hostname = rec.config.hostname or cid[:12]
        ips = containers.net.attach(cid, nets, hostname, name=rec.config.name,
                                    mac=rec.config.mac_address) if nets else []
        if not nets:
            containers.net.detach(cid)

        def done(r: Record) -> None:
            r.config = dataclasses.replace(r.config, networks=nets)
            r.ip_addresses = list(ips)

        before = rec.ip_addresses
        rec = containers.records.update(cid, done)
    # peers on the networks it left learn that too
    containers.etc.refresh(dataclasses.replace(rec, ip_addresses=[*before, *rec.ip_addresses]))


def connect(containers: Containers, ref: str, attach: NetworkAttach) -> None:
    def change(nets: tuple[NetworkAttach, ...], name: str) -> tuple[NetworkAttach, ...]:
        if any(n.network == attach.network for n in nets):
            raise Conflict(f"container {name} is on network {attach.network} already")
        return (*nets, attach)

    _rewire(containers, ref, change)


def disconnect(containers: Containers, ref: str, network: str) -> None:
    def change(nets: tuple[NetworkAttach, ...], name: str) -> tuple[NetworkAttach, ...]:
        if all(n.network != network for n in nets):
            raise NotFound(f"container {name} is not on network {network}")
        return tuple(n for n in nets if n.network != network)

    _rewire(containers, ref, change)
