"""Observed state: the project's objects as the runtime has them now.

Role: the arrow "desired state -> observed state" of DESIGN.md. One pass
costs a constant number of list calls (all containers once, which also
reveals foreign containers holding a declared name; volumes once; networks
once), one ``image_info`` per distinct image, and one inspect of every owned
container that is declared, in parallel on a bounded pool: what can change on a
live container (restart policy, limits, networks and aliases, paused state)
changes no label, so only the live values show it, on every pass. It also
reads the ledger of recorded hashes (``controller.planning.ledger``).
Neighbours: input ``controller.desired.state.DesiredState`` and a
``runtime.driver.Driver``; output to ``controller.planning.plan``.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from controller.desired.hashing import HASH_SCHEME, LABEL_HASH_SCHEME
from controller.desired.naming import LABEL_ASKED
from controller.desired.state import DesiredState
from controller.planning import adoption, ledger
from runtime.driver import Driver
from runtime.errors import NotFound
from runtime.types import (
    LABEL_HASH,
    LABEL_MANAGED_BY,
    LABEL_PROJECT,
    LABEL_UPDATE_HASH,
    MANAGED_BY,
    ContainerInfo,
    ContainerSummary,
    ImageInfo,
    NetworkInfo,
    VolumeInfo,
)

if TYPE_CHECKING:
    from controller.planning.prefetch import Listing

INSPECT_WORKERS = 8  # parallel inspects per pass (measured best on 2 cores: bench (b))


def owned_by(labels: Iterable[tuple[str, str]], project: str) -> bool:
    found = dict(labels)
    return found.get(LABEL_MANAGED_BY) == MANAGED_BY and found.get(LABEL_PROJECT) == project


@dataclass(frozen=True)
class Observed:
    """What the runtime has: owned objects, names in use, images, a few inspects."""

    project: str
    containers: dict[str, ContainerSummary] = field(default_factory=dict)  # owned, by name
    foreign: dict[str, ContainerSummary] = field(default_factory=dict)  # not ours, by name
    volumes: dict[str, VolumeInfo] = field(default_factory=dict)  # all, by name
    networks: dict[str, NetworkInfo] = field(default_factory=dict)  # all, by name
    images: dict[str, ImageInfo | None] = field(default_factory=dict)  # by image key
    inspected: dict[str, ContainerInfo] = field(default_factory=dict)  # by name
    calls: int = 0  # runtime calls made
    recorded: dict[str, ledger.Entry] = field(default_factory=dict)  # ledger, by container id
    adopted: adoption.Adoption = field(default_factory=adoption.Adoption)  # from compose

    def owned_volume(self, name: str) -> bool:
        vol = self.volumes.get(name)
        return vol is not None and (owned_by(vol.labels, self.project)
                                    or self.adopted.claims_object(name, vol.labels,
                                                                  self.adopted.volumes))

    def owned_network(self, name: str) -> bool:
        net = self.networks.get(name)
        return net is not None and (owned_by(net.labels, self.project)
                                    or self.adopted.claims_object(name, net.labels,
                                                                  self.adopted.networks))

    def image_id(self, key: str) -> str | None:
        info = self.images.get(key)
        return info.id if info else None

    def hashes(self, have: ContainerSummary) -> ledger.Entry | None:
        """The (spec, update) hashes ``have`` answers to under the current hash scheme: a
        ledger record (an in-place update or an adoption) wins over the creation labels;
        None when neither is of the current scheme (then fields alone decide)."""
        entry = self.recorded.get(have.id)
        if entry is not None and entry.scheme == HASH_SCHEME:
            return entry
        if have.label(LABEL_HASH_SCHEME) == HASH_SCHEME:
            return ledger.Entry(have.label(LABEL_HASH), have.label(LABEL_UPDATE_HASH))
        return None


def _name(summary: ContainerSummary) -> str:
    return summary.name.lstrip("/")


def _adoption(driver: Driver, desired: DesiredState, compose: str | None) -> adoption.Adoption:
    """What the project owns without its labels: adopted earlier, or taken over now."""
    known = adoption.read(driver.name, desired.project)
    if compose is None:
        return known
    names = {c.name for c in desired.containers} | {v.name for v in desired.volumes} | {
        n.name for n in desired.networks}
    return adoption.Adoption(compose, frozenset(c.resource for c in desired.containers),
                             frozenset(names), known.containers, known.volumes,
                             known.networks, known.asked)


def observe(driver: Driver, desired: DesiredState, *, workers: int = 16,
            listing: Listing | None = None, adopt_compose: str | None = None) -> Observed:
    """List the runtime once, then inspect every owned, declared container in parallel.

    ``listing``: the three lists, already under way (``controller.planning.prefetch``);
    ``adopt_compose``: a docker-compose project whose declared objects are taken over
    (``controller.planning.adoption``)."""
    keys = sorted({c.image.key: c.image.ref for c in desired.containers if c.image.ref}.items())
    with ThreadPoolExecutor(max_workers=max(4, workers)) as pool:
        # the three lists and the image lookups are independent: one round trip, not five
        if listing is None:
            listed = pool.submit(driver.list_containers, None)
            vols = pool.submit(driver.list_volumes, None)
            nets = pool.submit(driver.list_networks, None)
        found = [pool.submit(driver.image_info, ref) for _, ref in keys]
        images: dict[str, ImageInfo | None] = {
            k: f.result() for (k, _), f in zip(keys, found, strict=True)}
        if listing is None:
            lists = (listed.result(), vols.result(), nets.result())
        else:
            lists = listing.result()
        owned: dict[str, ContainerSummary] = {}
        foreign: dict[str, ContainerSummary] = {}
        adopted = _adoption(driver, desired, adopt_compose)
        for s in lists[0]:
            mine = owned_by(s.labels, desired.project) or adopted.claims(s)
            (owned if mine else foreign)[_name(s)] = s
        volumes = {v.name: v for v in lists[1]}
        networks = {n.name: n for n in lists[2]}
        calls = 3 + len(keys)
        recorded = ledger.read(driver.name, desired.project)
        live = [c.name for c in desired.containers if c.name in owned and c.state != "absent"]
    # the inspects: on a bounded pool of their own (more threads only contend for the GIL)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, INSPECT_WORKERS))) as pool:
        results = list(pool.map(lambda n: _inspect(driver, owned[n].id), live))
    calls += len(live)
    asked = dict(adopted.asked)
    inspected = {n: _with_asked(r, asked) for n, r in zip(live, results, strict=True)
                 if r is not None}
    return Observed(desired.project, owned, foreign, volumes, networks, images, inspected, calls,
                    recorded, adopted)


def _with_asked(info: ContainerInfo, asked: dict[str, str]) -> ContainerInfo:
    """An adopted container as if it carried ``LABEL_ASKED``: what its spec asked at the
    adoption, from the record (``adoption.Adoption.asked``), which the comparison of
    settings with daemon defaults reads (``controller.planning.hostrules.asked``)."""
    summary = info.summary
    value = asked.get(summary.id)
    if value is None or summary.label(LABEL_ASKED) is not None:
        return info
    labels = (*summary.labels, (LABEL_ASKED, value))
    return replace(info, summary=replace(summary, labels=labels))


def _inspect(driver: Driver, ref: str) -> ContainerInfo | None:
    try:
        return driver.inspect_container(ref)
    except NotFound:  # removed between the list and the inspect: the plan recreates it
        return None
