"""An in-memory ``Driver`` for the planner's and executor's unit tests only.

Role: keeps containers, images, volumes and networks in dicts and implements
the ``runtime.driver.Driver`` protocol closely enough to drive the
controller's plan and executor: names are unique (``Conflict``), missing
objects raise ``NotFound``, ``calls`` records every call in order, and
``fail`` injects an error for a (method, name) pair; a created container
reports the image's defaults as every runtime does (``runtime.imagedefaults``).
Integration tests use the real runtimes; this fake never replaces them.
Neighbours: ``runtime.driver``, ``runtime.types``, ``runtime.imagedefaults``,
``tests/controller``.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from runtime.driver import IdSet
from runtime.errors import Conflict, ImageError, NotFound, RuntimeError_
from runtime.imagedefaults import merge
from runtime.types import (
    ContainerConfig,
    ContainerInfo,
    ContainerSummary,
    Event,
    ExecResult,
    Health,
    ImageInfo,
    NetworkAttach,
    NetworkConfig,
    NetworkInfo,
    ResourceSpec,
    RestartSpec,
    State,
    VolumeConfig,
    VolumeInfo,
)


@dataclasses.dataclass
class FakeContainer:
    id: str
    config: ContainerConfig
    image_id: str
    state: State = State.CREATED
    health: Health = Health.NONE
    exit_code: int | None = None

    def summary(self) -> ContainerSummary:
        return ContainerSummary(self.id, self.config.name, self.image_id, self.state,
                                self.config.labels, self.health, self.exit_code)


class _NoEvents:
    def __iter__(self) -> Iterator[Event]:
        return iter(())

    def close(self) -> None:
        return None


class FakeDriver:
    """A runtime in memory. ``images`` maps a reference to its ``ImageInfo``."""

    name = "fake"

    def __init__(self) -> None:
        self.containers: dict[str, FakeContainer] = {}
        self.images: dict[str, ImageInfo] = {}
        self.volumes: dict[str, VolumeInfo] = {}
        self.networks: dict[str, NetworkInfo] = {}
        self.calls: list[tuple[str, str]] = []
        self.failures: dict[tuple[str, str], RuntimeError_] = {}
        self.once: set[tuple[str, str]] = set()
        self.healthy_on_start = True
        self.pull_ids: dict[str, str] = {}  # ref -> id a pull produces
        self._ids = itertools.count(1)
        # ids are never reused across drivers either (the ledger keys records by id)
        self._id_prefix = os.urandom(4).hex()
        self._lock = threading.RLock()

    # helpers for tests --------------------------------------------------------
    def fail(self, method: str, name: str, error: RuntimeError_, *, once: bool = False) -> None:
        """Make ``method`` on ``name`` (a container name or id) raise ``error``."""
        self.failures[(method, name)] = error
        if once:
            self.once.add((method, name))

    def add_image(self, ref: str, image_id: str | None = None, **fields: object) -> ImageInfo:
        info = ImageInfo(id=image_id or f"sha256:{ref}", refs=(ref,), **fields)  # type: ignore[arg-type]
        self.images[ref] = info
        return info

    def _record(self, method: str, name: str) -> None:
        with self._lock:
            self.calls.append((method, name))
            error = self.failures.get((method, name))
            key = (method, name)
            known = [c.config.name for c in self.containers.values() if c.id == name]
            if error is None and known:  # failures may name a container given by id
                key = (method, known[0])
                error = self.failures.get(key)
            if error is not None and key in self.once:
                del self.failures[key]
        if error is not None:
            raise error

    def _find(self, ref: str) -> FakeContainer:
        for c in self.containers.values():
            if c.id == ref or c.config.name == ref:
                return c
        raise NotFound(f"no such container: {ref}")

    @staticmethod
    def _match(labels: tuple[tuple[str, str], ...], want: Mapping[str, str] | None) -> bool:
        have = dict(labels)
        return all(have.get(k) == v for k, v in (want or {}).items())

    # protocol -----------------------------------------------------------------
    def ping(self) -> None:
        self._record("ping", "")

    def close(self) -> None:
        return None

    def list_containers(self, labels: Mapping[str, str] | None = None) -> list[ContainerSummary]:
        self._record("list_containers", "")
        with self._lock:
            return [c.summary() for c in self.containers.values()
                    if self._match(c.config.labels, labels)]

    def inspect_container(self, ref: str) -> ContainerInfo:
        self._record("inspect_container", ref)
        with self._lock:
            c = self._find(ref)
            return ContainerInfo(c.summary(), c.config, image_ref=c.config.image)

    def create_container(self, config: ContainerConfig) -> str:
        self._record("create_container", config.name)
        with self._lock:
            if any(c.config.name == config.name for c in self.containers.values()):
                raise Conflict(f"container name {config.name} is in use")
            image = self.images.get(config.image)
            if image is None:
                raise NotFound(f"no such image: {config.image}")
            cid = f"{self._id_prefix}{next(self._ids):056x}"
            self.containers[cid] = FakeContainer(cid, merge(config, image), image.id)
            return cid

    def start_container(self, ref: str) -> None:
        self._record("start_container", ref)
        with self._lock:
            c = self._find(ref)
            c.state, c.exit_code = State.RUNNING, None
            if c.config.healthcheck is not None:
                c.health = Health.HEALTHY if self.healthy_on_start else Health.UNHEALTHY

    def stop_container(self, ref: str, timeout: float | None = None) -> None:
        self._record("stop_container", ref)
        with self._lock:
            c = self._find(ref)
            c.state, c.exit_code, c.health = State.EXITED, 0, Health.NONE

    def remove_container(self, ref: str, *, force: bool = True) -> None:
        self._record("remove_container", ref)
        with self._lock:
            del self.containers[self._find(ref).id]

    def rename_container(self, ref: str, new_name: str) -> None:
        self._record("rename_container", f"{ref}->{new_name}")
        with self._lock:
            c = self._find(ref)
            if any(o.config.name == new_name and o is not c for o in self.containers.values()):
                raise Conflict(f"container name {new_name} is in use")
            c.config = dataclasses.replace(c.config, name=new_name)

    def update_container(self, ref: str, *, restart: RestartSpec | None = None,
                         resources: ResourceSpec | None = None,
                         networks: Sequence[NetworkAttach] | None = None) -> None:
        self._record("update_container", ref)
        with self._lock:
            c = self._find(ref)
            aliases = {n.network: tuple(n.aliases) for n in networks or ()}
            missing = set(aliases) - {n.network for n in c.config.networks}
            if missing:
                raise Conflict(f"container {c.config.name} is not on network(s) "
                               f"{', '.join(sorted(missing))}",
                               hint="connect it first (a change of networks is a recreate)")
            nets = tuple(NetworkAttach(n.network, aliases.get(n.network, n.aliases))
                         for n in c.config.networks)
            c.config = dataclasses.replace(c.config, restart=restart or c.config.restart,
                                           resources=resources or c.config.resources,
                                           networks=nets)

    def connect_network(self, ref: str, attach: NetworkAttach) -> None:
        self._record("connect_network", f"{ref}->{attach.network}")
        with self._lock:
            c = self._find(ref)
            if attach.network not in self.networks:
                raise NotFound(f"network {attach.network} not found")
            if any(n.network == attach.network for n in c.config.networks):
                raise Conflict(f"container {c.config.name} is on network {attach.network}")
            c.config = dataclasses.replace(c.config, networks=(*c.config.networks, attach))

    def disconnect_network(self, ref: str, network: str) -> None:
        self._record("disconnect_network", f"{ref}->{network}")
        with self._lock:
            c = self._find(ref)
            if all(n.network != network for n in c.config.networks):
                raise NotFound(f"container {c.config.name} is not on network {network}")
            c.config = dataclasses.replace(c.config, networks=tuple(
                n for n in c.config.networks if n.network != network))

    def unpause_container(self, ref: str) -> None:
        self._record("unpause_container", ref)
        with self._lock:
            c = self._find(ref)
            if c.state is State.PAUSED:
                c.state = State.RUNNING

    def exec_in(self, ref: str, command: Sequence[str], *, tty: bool = False) -> ExecResult:
        self._record("exec_in", ref)
        self._find(ref)
        return ExecResult(1, b"fake: probe failed")

    def logs(self, ref: str, *, follow: bool = False, tail: int | None = None) -> Iterator[bytes]:
        self._record("logs", ref)
        self._find(ref)
        return iter(())

    def image_info(self, ref: str) -> ImageInfo | None:
        self._record("image_info", ref)
        return self.images.get(ref)

    def pull_image(self, ref: str) -> ImageInfo:
        self._record("pull_image", ref)
        return self.add_image(ref, self.pull_ids.get(ref))

    def build_image(self, context: Path, tag: str, *, dockerfile: str | None = None,
                    args: Mapping[str, str] | None = None,
                    labels: Mapping[str, str] | None = None) -> ImageInfo:
        self._record("build_image", tag)
        if not context.is_dir():
            raise ImageError(f"build context {context} not found")
        return self.add_image(tag, f"sha256:built-{next(self._ids)}",
                              labels=tuple(sorted((labels or {}).items())))

    def load_image(self, archive: Path) -> list[str]:
        self._record("load_image", str(archive))
        ref = archive.stem + ":latest"
        self.add_image(ref, f"sha256:loaded-{next(self._ids)}")
        return [ref]

    def list_volumes(self, labels: Mapping[str, str] | None = None) -> list[VolumeInfo]:
        self._record("list_volumes", "")
        return [v for v in self.volumes.values() if self._match(v.labels, labels)]

    def create_volume(self, config: VolumeConfig) -> VolumeInfo:
        self._record("create_volume", config.name)
        with self._lock:
            if config.name in self.volumes:
                raise Conflict(f"volume {config.name} exists")
            info = VolumeInfo(config.name, config.driver, config.labels)
            self.volumes[config.name] = info
            return info

    def remove_volume(self, name: str) -> None:
        self._record("remove_volume", name)
        with self._lock:
            if self.volumes.pop(name, None) is None:
                raise NotFound(f"no such volume: {name}")

    def list_networks(self, labels: Mapping[str, str] | None = None) -> list[NetworkInfo]:
        self._record("list_networks", "")
        return [n for n in self.networks.values() if self._match(n.labels, labels)]

    def create_network(self, config: NetworkConfig) -> NetworkInfo:
        self._record("create_network", config.name)
        with self._lock:
            if config.name in self.networks:
                raise Conflict(f"network {config.name} exists")
            info = NetworkInfo(f"net-{config.name}", config.name, config.driver,
                               config.internal, config.subnet, config.labels)
            self.networks[config.name] = info
            return info

    def remove_network(self, name: str) -> None:
        self._record("remove_network", name)
        with self._lock:
            if self.networks.pop(name, None) is None:
                raise NotFound(f"no such network: {name}")

    def events(self, labels: Mapping[str, str] | None = None,
               ids: IdSet | None = None) -> _NoEvents:
        return _NoEvents()
