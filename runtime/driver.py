"""The ``Driver`` protocol: what the controller may ask of any runtime.

Role: the single seam between the controller and a container runtime. The
Docker driver (``runtime.docker``), the daemonless native driver
(``runtime.native``) and the in-memory fake (``runtime.fake``, planner tests
only) implement it and pass one contract suite (``tests/contract``).
Neighbours: ``runtime.types`` (values in and out), ``runtime.errors`` (every
method raises only those), ``runtime.registry`` (picks a driver by name).

Rules for implementers:
- ``list_*`` are one cheap call each (no per-object inspect), so observing a
  project costs a constant number of calls.
- ``create_*`` create or fail with ``Conflict``; ``remove_*`` of a missing
  object raises ``NotFound`` (the controller treats that as done).
- Container ids are opaque strings; names are accepted wherever ids are.
- Never block forever: every call that waits has a timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Protocol, runtime_checkable

from runtime.types import (
    ContainerConfig,
    ContainerInfo,
    ContainerSummary,
    Event,
    ExecResult,
    ImageInfo,
    NetworkAttach,
    NetworkConfig,
    NetworkInfo,
    ResourceSpec,
    RestartSpec,
    VolumeConfig,
    VolumeInfo,
)


class EventStream(Protocol):
    """An iterator of events that another thread can stop with ``close()``."""

    def __iter__(self) -> Iterator[Event]: ...

    def close(self) -> None: ...


IdSet = Callable[[], AbstractSet[str]]  # container ids, asked anew each time

@runtime_checkable
class Driver(Protocol):
    """A container runtime as the controller sees it."""

    name: str  # "docker" | "native" | "swarm" | "fake"

    def ping(self) -> None:
        """Raise ``Unavailable`` when the runtime cannot be reached."""

    def close(self) -> None:
        """Release connections; the driver is not used afterwards."""

    # containers -------------------------------------------------------------
    def list_containers(self, labels: Mapping[str, str] | None = None) -> list[ContainerSummary]:
        """All containers (any state) carrying every given label; ``None`` = all on the host."""

    def inspect_container(self, ref: str) -> ContainerInfo:
        """Live configuration of one container (by id or name)."""

    def create_container(self, config: ContainerConfig) -> str:
        """Create (not start) a container; return its id. Image must be present."""

    def start_container(self, ref: str) -> None: ...

    def stop_container(self, ref: str, timeout: float | None = None) -> None:
        """Stop signal, wait up to ``timeout`` seconds (None: the container's own), then kill."""

    def remove_container(self, ref: str, *, force: bool = True) -> None:
        """Remove a container, never a volume, named or anonymous (``docker rm`` without
        ``-v``): volumes go only through ``remove_volume``."""

    def rename_container(self, ref: str, new_name: str) -> None: ...

    def update_container(
        self, ref: str, *, restart: RestartSpec | None = None,
        resources: ResourceSpec | None = None, networks: Sequence[NetworkAttach] | None = None,
    ) -> None:
        """Change restart policy, resource limits and/or network aliases in place.

        ``networks``: for each listed network (the container must be on it), its aliases
        there become exactly the given ones; the container keeps its id and keeps running.
        """

    def connect_network(self, ref: str, attach: NetworkAttach) -> None:
        """Join ``attach.network`` with ``attach.aliases``, in place (the container keeps its
        id and keeps running); ``Conflict`` when it is on that network already."""

    def disconnect_network(self, ref: str, network: str) -> None:
        """Leave ``network`` in place; ``NotFound`` when the container is not on it."""

    def unpause_container(self, ref: str) -> None:
        """Resume a paused container (a runtime that cannot pause accepts it as done)."""

    def exec_in(self, ref: str, command: Sequence[str], *, tty: bool = False) -> ExecResult: ...

    def logs(
        self, ref: str, *, follow: bool = False, tail: int | None = None
    ) -> Iterator[bytes]: ...

    # images -----------------------------------------------------------------
    def image_info(self, ref: str) -> ImageInfo | None:
        """The local image behind ``ref`` (a reference or an id), or None when absent."""

    def pull_image(self, ref: str) -> ImageInfo: ...

    def build_image(
        self,
        context: Path,
        tag: str,
        *,
        dockerfile: str | None = None,
        args: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> ImageInfo: ...

    def load_image(self, archive: Path) -> list[str]:
        """Load a ``docker save`` / OCI archive; return the references it carried."""

    # volumes and networks ---------------------------------------------------
    def list_volumes(self, labels: Mapping[str, str] | None = None) -> list[VolumeInfo]: ...

    def create_volume(self, config: VolumeConfig) -> VolumeInfo: ...

    def remove_volume(self, name: str) -> None: ...

    def list_networks(self, labels: Mapping[str, str] | None = None) -> list[NetworkInfo]: ...

    def create_network(self, config: NetworkConfig) -> NetworkInfo: ...

    def remove_network(self, name: str) -> None: ...

    # events -----------------------------------------------------------------
    def events(self, labels: Mapping[str, str] | None = None,
               ids: IdSet | None = None) -> EventStream:
        """Container events from now on, filtered by labels; with ``ids``, also the events
        of the containers whose id is in ``ids()`` whatever their labels (asked at each
        event: the set may change while the stream runs)."""
