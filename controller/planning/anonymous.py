"""Anonymous volumes: kept across a recreate, removed only by ``down --volumes``.

Role: the volumes a runtime creates under a generated name for a container
(the image's ``VOLUME`` paths, ``"/x"`` mounts in the spec) hold what users
see as the container's own data (a database's files). A new container would
get fresh, empty ones, so, as docker-compose does (``get_container_data_volumes``),
a recreate mounts the old container's volumes at the same paths instead:
:func:`carry` (pure) decides which, :func:`for_replacement` adds the targets
``volumes_from`` provides (never carried: the source container provides them).
:func:`live_mounts` lets ``controller.planning.compare`` see such a carried mount as
what the spec asked for, so the next pass stays a no-op; the hash labels of
the new container stay the desired ones. :func:`of_containers` lists what
``down --volumes`` removes besides named volumes (like ``docker-compose down -v``).
Neighbours: ``controller.execution.apply`` (recreate), ``controller.planning.compare``,
``controller.commands.converge`` and ``controller.planning.down.plan_down`` (down);
reads ``runtime.types.ContainerInfo.anonymous_volumes`` and
``ImageInfo.volumes`` through a ``runtime.driver.Driver``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from runtime.driver import Driver
from runtime.errors import NotFound
from runtime.types import ContainerConfig, ContainerInfo, ImageInfo, MountSpec


def _path(target: str) -> str:
    return posixpath.normpath(target) if target.startswith("/") else target


def _image_paths(image: ImageInfo | None) -> set[str] | None:
    return None if image is None else {_path(v) for v in image.volumes}


def carry(config: ContainerConfig, old: ContainerInfo, image: ImageInfo | None,
          inherited: Collection[str] = ()) -> ContainerConfig:
    """``config`` with the old container's anonymous volumes where the new one would get
    fresh ones: at each anonymous (``"/x"``) mount of ``config``, and at each ``VOLUME``
    path of ``image`` that no mount of ``config`` covers (a named volume, bind or tmpfs
    declared there wins). Targets in ``inherited`` (from ``volumes_from``) are never
    carried. Without ``image`` (unknown) every uncovered anonymous volume is carried."""
    skip = {_path(t) for t in inherited}
    found = {_path(m.target): m.source for m in old.anonymous_volumes
             if m.source and _path(m.target) not in skip}
    if not found:
        return config
    mounts: list[MountSpec] = []
    for m in config.mounts:
        source = found.get(_path(m.target))
        if m.type == "volume" and not m.source and source:
            m = replace(m, source=source)
        mounts.append(m)
    covered = {_path(m.target) for m in config.mounts}
    paths = _image_paths(image)
    for target, source in sorted(found.items()):
        if target not in covered and (paths is None or target in paths):
            mounts.append(MountSpec(type="volume", target=target, source=source))
    return replace(config, mounts=tuple(mounts))


def _provided(info: ContainerInfo) -> set[str]:
    """Every target a container passes on through ``volumes_from``."""
    return {_path(m.target) for m in (*info.config.mounts, *info.anonymous_volumes)
            if m.type != "tmpfs"}


def for_replacement(driver: Driver, config: ContainerConfig, old: ContainerInfo,
                    image: ImageInfo | None) -> ContainerConfig:
    """:func:`carry` for a live old container: inspects the ``volumes_from`` sources of the
    old and the new config (only when there is something to carry)."""
    if not old.anonymous_volumes:
        return config
    inherited: set[str] = set()
    names = {n for n, _ in config.volumes_from} | {n for n, _ in old.config.volumes_from}
    for name in sorted(names):
        try:
            inherited |= _provided(driver.inspect_container(name))
        except NotFound:
            continue
    return carry(config, old, image, inherited)


def live_mounts(live: ContainerInfo, want: Sequence[MountSpec],
                image: ImageInfo | None) -> tuple[MountSpec, ...]:
    """The live container's configured mounts as the spec says them: a mount of one of
    its anonymous volumes (carried over by a recreate) is anonymous where the spec has
    an anonymous mount, and left out at an image ``VOLUME`` path the spec does not mount
    (anywhere else it stays a difference: the spec dropped that mount)."""
    anonymous = {(_path(m.target), m.source) for m in live.anonymous_volumes}
    if not anonymous:
        return live.config.mounts
    wanted = set(want)
    targets = {_path(m.target) for m in want}
    paths = _image_paths(image)
    out: list[MountSpec] = []
    for m in live.config.mounts:
        target = _path(m.target)
        if m not in wanted and m.type == "volume" and (target, m.source) in anonymous:
            if target not in targets and (paths is None or target in paths):
                continue
            m = replace(m, source=None)
        out.append(m)
    return tuple(out)


def of_containers(driver: Driver, refs: Iterable[str], *,
                  workers: int = 8) -> dict[str, str]:
    """Anonymous volume name -> name of the container it belongs to, for the given
    containers (all about to be removed). Volumes a container only inherits through
    ``volumes_from`` of a container not in ``refs`` stay: that one still uses them."""
    refs = list(refs)

    def inspect(ref: str) -> ContainerInfo | None:
        try:
            return driver.inspect_container(ref)
        except NotFound:
            return None

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        infos = [i for i in pool.map(inspect, refs) if i is not None]
    names = {i.summary.name for i in infos} | {i.summary.id for i in infos}
    outside = sorted({n for i in infos for n, _ in i.config.volumes_from if n not in names})
    kept: set[str] = set()
    for name in outside:
        source = inspect(name)
        if source is not None:
            kept |= {m.source or "" for m in source.anonymous_volumes}
    out: dict[str, str] = {}
    for info in sorted(infos, key=lambda i: i.summary.name):
        for m in info.anonymous_volumes:
            if m.source and m.source not in kept:
                out.setdefault(m.source, info.summary.name)
    return out
