"""The Swarm driver: services, tasks, nodes, overlay networks, secrets and configs.

Role: what the controller asks of a Docker Swarm cluster, through one manager's
Engine API: the endpoint is chosen as for the Docker runtime (``base_url``,
else ``DOCKER_HOST``, else the local socket; ``runtime.docker.sdk.transport_for``)
and every call runs inside ``runtime.docker.errors.mapped_errors``, so callers
see only ``runtime.errors``. Lists are one call each; a live service comes
back as a typed ``runtime.swarm.spec.ServiceInfo`` whose spec is normalised
(``runtime.swarm.convert.from_api``). :meth:`SwarmDriver.update_service` sends
the whole spec with the version it was read at and, on Swarm's "update out of
sequence" (HTTP 500: someone else updated it meanwhile), re-reads the version
and sends it again. Networks are overlay and attachable; secrets and configs
are immutable Swarm objects named by the caller. Neighbours:
``runtime.swarm.engine`` (the API calls), ``runtime.swarm.convert``,
``runtime.swarm.events``; ``runtime.registry`` builds it for ``--runtime swarm``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from runtime.docker.errors import mapped_errors
from runtime.docker.sdk import transport_for
from runtime.errors import (
    Conflict,
    ImageError,
    InvalidRequest,
    NotFound,
    RuntimeError_,
    Transient,
    Unavailable,
)
from runtime.swarm import convert
from runtime.swarm.engine import SwarmEngine
from runtime.swarm.events import SwarmEventStream
from runtime.swarm.spec import NodeInfo, ObjectInfo, ServiceInfo, ServiceSpec, TaskInfo
from runtime.types import ExecResult, NetworkConfig, NetworkInfo, pairs

UPDATE_ATTEMPTS = 5  # sends of one update racing other writers (each re-reads the version)
NOT_A_MANAGER = ("point DOCKER_HOST at a Swarm manager, or make this daemon one with "
                 "`docker swarm init`")


def _selector(labels: Mapping[str, str] | None) -> dict[str, Any] | None:
    return {"label": [f"{k}={v}" for k, v in labels.items()]} if labels else None


def _task(t: Mapping[str, Any]) -> TaskInfo:
    status = t.get("Status") or {}
    cstatus = status.get("ContainerStatus") or {}
    spec = (t.get("Spec") or {}).get("ContainerSpec") or {}
    code = cstatus.get("ExitCode")
    return TaskInfo(id=t["ID"], service_id=t.get("ServiceID", ""), slot=int(t.get("Slot") or 0),
                    node_id=t.get("NodeID", ""), state=status.get("State", ""),
                    desired_state=t.get("DesiredState", ""), message=status.get("Message", ""),
                    error=status.get("Err", ""), container_id=cstatus.get("ContainerID", ""),
                    timestamp=status.get("Timestamp", ""),
                    exit_code=None if code is None else int(code),
                    spec_image=convert.canonical_image(spec.get("Image", "")))


def _node(n: Mapping[str, Any]) -> NodeInfo:
    spec, desc, status = n.get("Spec") or {}, n.get("Description") or {}, n.get("Status") or {}
    return NodeInfo(id=n["ID"], hostname=desc.get("Hostname", ""), role=spec.get("Role", ""),
                    availability=spec.get("Availability", ""), state=status.get("State", ""),
                    address=status.get("Addr", ""), labels=pairs(spec.get("Labels")),
                    leader=bool((n.get("ManagerStatus") or {}).get("Leader")),
                    os=(desc.get("Platform") or {}).get("OS", ""),
                    arch=(desc.get("Platform") or {}).get("Architecture", ""),
                    engine_labels=pairs((desc.get("Engine") or {}).get("Labels")))


def _network(n: Mapping[str, Any]) -> NetworkInfo:
    ipam = (n.get("IPAM") or {}).get("Config") or []
    return NetworkInfo(id=n["Id"], name=n["Name"], driver=n.get("Driver", ""),
                       internal=bool(n.get("Internal")),
                       subnet=ipam[0].get("Subnet") if ipam else None,
                       labels=pairs(n.get("Labels")))


MANAGER_FRESH = 30.0  # seconds a successful ping() spares ensure_manager() another


class SwarmDriver:
    """A Swarm cluster through one manager; safe to share between threads."""

    name = "swarm"

    def __init__(self, base_url: str | None = None, timeout: float = 60) -> None:
        self.engine = SwarmEngine(transport_for(base_url, timeout))
        self._manager_at = float("-inf")  # monotonic time ping() last found a manager

    def close(self) -> None:
        self.engine.transport.close()

    def ping(self) -> None:
        """Raise ``Unavailable`` when the endpoint cannot be reached, ``InvalidRequest``
        when it is not the manager of an active Swarm. One ``GET /swarm`` when it is (only
        a manager answers it); ``/info`` is read only to say why it is not."""
        try:
            with mapped_errors("ping the Swarm manager"):
                self.engine.swarm()
            self._manager_at = time.monotonic()
            return
        except Unavailable:
            raise
        except RuntimeError_:
            pass  # not a manager (HTTP 503): /info tells the node's state
        with mapped_errors("ping the Swarm manager"):
            info = self.engine.info()
        swarm = info.get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            raise InvalidRequest(
                f"the Docker daemon at {self.engine.transport.address} is not a Swarm manager "
                f"(node state {swarm.get('LocalNodeState') or 'inactive'})", hint=NOT_A_MANAGER)

    def ensure_manager(self) -> None:
        """:meth:`ping`, unless it found a manager less than ``MANAGER_FRESH`` seconds ago
        (a service's passes: a node demoted since fails the next call with the daemon's
        own message, and the pass after pings again)."""
        if time.monotonic() - self._manager_at >= MANAGER_FRESH:
            self.ping()

    def local_node(self) -> str:
        """The id of the node this endpoint is."""
        with mapped_errors("read the Swarm node id"):
            return str((self.engine.info().get("Swarm") or {}).get("NodeID", ""))

    # services ---------------------------------------------------------------------
    def _names(self) -> dict[str, str]:
        return {n.id: n.name for n in self.list_networks()}

    def _recount(self, service_ids: Sequence[str]) -> dict[str, int]:
        """Running tasks per service when a node is not ready, counted without that node's:
        Swarm's ``RunningTasks`` keeps counting the tasks a node that went down last
        reported running, beside their replacements (``6/4``, and an ``apply`` that never
        converges). Empty when every node is ready (Swarm's count is right then)."""
        if not service_ids:
            return {}
        with mapped_errors("list nodes"):
            gone = {n["ID"] for n in self.engine.nodes()
                    if (n.get("Status") or {}).get("State") != "ready"}
        if not gone:
            return {}
        with mapped_errors("list tasks"):
            tasks = self.engine.tasks({"service": list(service_ids)})
        counts = dict.fromkeys(service_ids, 0)
        for t in tasks:
            if ((t.get("Status") or {}).get("State") == "running"
                    and t.get("NodeID") not in gone and t.get("ServiceID") in counts):
                counts[t["ServiceID"]] += 1
        return counts

    def _info(self, s: Mapping[str, Any], names: Mapping[str, str],
              running: int | None = None) -> ServiceInfo:
        update = s.get("UpdateStatus") or {}
        status = s.get("ServiceStatus") or {}
        return ServiceInfo(
            id=s["ID"], version=int((s.get("Version") or {}).get("Index", 0)),
            spec=convert.from_api(s.get("Spec") or {}, names),
            update_state=update.get("State", ""), update_message=update.get("Message", ""),
            update_started=update.get("StartedAt", ""),
            running=int(status.get("RunningTasks") or 0) if running is None else running,
            desired=int(status.get("DesiredTasks") or 0),
            previous=bool(s.get("PreviousSpec")), created_at=s.get("CreatedAt", ""),
            updated_at=s.get("UpdatedAt", ""),
            pin=str(((s.get("Spec") or {}).get("TaskTemplate") or {}).get(
                "ContainerSpec", {}).get("Image", "")).partition("@")[2])

    def list_services(self, labels: Mapping[str, str] | None = None,
                      networks: Sequence[NetworkInfo] | None = None,
                      recount: bool = True) -> list[ServiceInfo]:
        """Services carrying every given label (None: all), with their task counts;
        ``networks``: every network, when the caller listed them already (else listed
        here to name the services' networks); ``recount=False``: Swarm's running counts
        as they are, no node list (a plan, which compares specs only)."""
        with mapped_errors("list services"):
            found = self.engine.services(_selector(labels))
        if not found:
            names: dict[str, str] = {}
        elif networks is not None:
            names = {n.id: n.name for n in networks}
        else:
            names = self._names()
        running = self._recount([s["ID"] for s in found]) if recount else {}
        return [self._info(s, names, running.get(s["ID"])) for s in found]

    def inspect_service(self, ref: str) -> ServiceInfo:
        with mapped_errors(f"inspect service {ref}"):
            found = self.engine.service(ref)
            status: dict[str, Any] = next(iter(self.engine.services({"id": found["ID"]})), {})
        return self._info({**found, "ServiceStatus": status.get("ServiceStatus")}, self._names(),
                          self._recount([found["ID"]]).get(found["ID"]))

    def _object_ids(self, spec: ServiceSpec) -> dict[str, str]:
        ids: dict[str, str] = {}
        for kind in sorted({f.kind for f in spec.files}):
            ids.update({o.name: o.id for o in self.list_objects(kind)})
        return ids

    def create_service(self, spec: ServiceSpec) -> str:
        """Create a service; ``Conflict`` when its name is taken. Returns its id."""
        body = convert.to_api(spec, self._object_ids(spec))
        with mapped_errors(f"create service {spec.name}"):
            return str(self.engine.create_service(body)["ID"])

    def update_service(self, ref: str, spec: ServiceSpec, version: int) -> int:
        """Send ``spec`` as the whole new spec of ``ref``, read at ``version``; on "update
        out of sequence" re-read and send again. Returns the version it was sent at."""
        body = convert.to_api(spec, self._object_ids(spec))
        for attempt in range(UPDATE_ATTEMPTS):
            try:
                with mapped_errors(f"update service {spec.name}"):
                    self.engine.update_service(ref, version, body)
                return version
            except Transient as exc:
                if "out of sequence" not in exc.message or attempt == UPDATE_ATTEMPTS - 1:
                    raise
                version = self.inspect_service(ref).version
        return version

    def rollback_service(self, ref: str) -> None:
        """Ask Swarm to go back to the service's previous spec."""
        info = self.inspect_service(ref)
        with mapped_errors(f"roll service {ref} back"):
            self.engine.update_service(ref, info.version, {}, rollback=True)

    def remove_service(self, ref: str) -> None:
        with mapped_errors(f"remove service {ref}"):
            self.engine.remove_service(ref)

    def tasks(self, service: str | None = None,
              labels: Mapping[str, str] | None = None) -> list[TaskInfo]:
        """Tasks of one service (by name or id), or of the services with ``labels``."""
        selector: dict[str, Any] = dict(_selector(labels) or {})
        if service:
            selector["service"] = [service]
        with mapped_errors(f"list tasks of {service or 'services'}"):
            return sorted((_task(t) for t in self.engine.tasks(selector or None)),
                          key=lambda t: (t.service_id, t.slot, t.node_id, t.timestamp))

    def nodes(self) -> list[NodeInfo]:
        with mapped_errors("list nodes"):
            return sorted((_node(n) for n in self.engine.nodes()), key=lambda n: n.hostname)

    # networks ---------------------------------------------------------------------
    def list_networks(self, labels: Mapping[str, str] | None = None) -> list[NetworkInfo]:
        with mapped_errors("list networks"):
            return [_network(n) for n in self.engine.networks(_selector(labels))]

    def create_network(self, config: NetworkConfig) -> NetworkInfo:
        """An attachable overlay network (the only kind that spans nodes)."""
        body: dict[str, Any] = {"Name": config.name, "Driver": "overlay", "Attachable": True,
                                "Internal": config.internal, "Labels": dict(config.labels),
                                "CheckDuplicate": True}
        if config.subnet:
            body["IPAM"] = {"Config": [{"Subnet": config.subnet}]}
        with mapped_errors(f"create network {config.name}"):
            created = self.engine.create_network(body)
        return NetworkInfo(created["Id"], config.name, "overlay", config.internal,
                           config.subnet, config.labels)

    def remove_network(self, name: str) -> None:
        """Remove an overlay network; ``Conflict`` while a service or a task meant to run
        uses it (Swarm answers 400 "in use by task" a moment after the service is removed,
        until its tasks are marked for removal: the caller retries)."""
        try:
            with mapped_errors(f"remove network {name}"):
                self.engine.remove_network(name)
        except InvalidRequest as exc:
            if "is in use by" not in str(exc):
                raise
            raise Conflict(exc.message, hint="remove the services that use it first; the tasks "
                           "of a service just removed release it a moment later") from exc

    # secrets and configs ----------------------------------------------------------
    def list_objects(self, kind: str, labels: Mapping[str, str] | None = None
                     ) -> list[ObjectInfo]:
        """Secrets (``kind`` "secret") or configs ("config") carrying ``labels``."""
        with mapped_errors(f"list {kind}s"):
            found = self.engine.objects(kind, _selector(labels))
        return [ObjectInfo(o["ID"], (o.get("Spec") or {}).get("Name", ""),
                           pairs((o.get("Spec") or {}).get("Labels")), o.get("CreatedAt", ""))
                for o in found]

    def create_object(self, kind: str, name: str, data: bytes,
                      labels: Mapping[str, str]) -> str:
        """Create a secret or config; ``Conflict`` when the name is taken."""
        with mapped_errors(f"create {kind} {name}"):
            return str(self.engine.create_object(kind, name, data, labels)["ID"])

    def remove_object(self, kind: str, ref: str) -> None:
        """Remove a secret or config; ``Conflict`` while a service uses it."""
        with mapped_errors(f"remove {kind} {ref}"):
            self.engine.remove_object(kind, ref)

    # logs, exec, images -----------------------------------------------------------
    def service_logs(self, ref: str, *, follow: bool = False,
                     tail: int | None = None) -> Iterator[bytes]:
        """The service's log lines, every task, each with the API's details prefix."""
        with mapped_errors(f"logs of service {ref}"):
            stream, chunks = self.engine.service_logs(ref, follow=follow, tail=tail)
        try:
            with mapped_errors(f"logs of service {ref}"):
                yield from chunks
        finally:
            stream.close()

    def local_task_containers(self, service: str) -> list[str]:
        """Ids of the running containers of ``service``'s tasks on this endpoint's node."""
        with mapped_errors(f"list containers of service {service}"):
            found = self.engine.local_containers(
                {"label": [f"com.docker.swarm.service.name={service}"], "status": ["running"]})
        return sorted(str(c["Id"]) for c in found)

    def exec_in(self, container: str, command: Sequence[str], *, tty: bool = False
                ) -> ExecResult:
        with mapped_errors(f"exec in {container[:12]}"):
            code, output = self.engine.exec_run(container, list(command), tty)
        return ExecResult(-1 if code is None else code, output)

    def tag_image(self, source: str, ref: str) -> None:
        """Tag the image ``source`` as ``ref`` on this endpoint's node."""
        repo, _, tag = ref.rpartition(":")
        if "/" in tag or not repo:
            repo, tag = ref, "latest"
        with mapped_errors(f"tag image {source} as {ref}"):
            self.engine.tag(source, repo, tag)

    def push_image(self, ref: str) -> None:
        """Push ``ref`` (a reference to the [project] registry) from this endpoint's node."""
        name, _, tag = ref.rpartition(":")
        if "/" in tag or not name:
            name, tag = ref, "latest"
        with mapped_errors(f"push image {ref}"):
            for line in self.engine.push(name, tag):
                if isinstance(line, dict) and line.get("error"):
                    raise ImageError(f"push image {ref}: {line['error']}",
                                     hint="start the registry, or name one every node reaches "
                                          "in [project] registry")

    def resolve_digest(self, ref: str) -> str:
        """The digest (``sha256:...``) the registry serves for ``ref`` now."""
        with mapped_errors(f"resolve image {ref} at its registry"):
            found = self.engine.distribution(ref)
        descriptor = found.get("Descriptor") or {}
        digest = str(descriptor.get("digest") or descriptor.get("Digest") or "")
        if not digest.startswith("sha256:"):
            raise ImageError(f"resolve image {ref}: the registry sent no digest",
                             hint="check the registry that serves the image")
        return digest

    def events(self) -> SwarmEventStream:
        """Service, node and (this node's) task container events from now on."""
        return SwarmEventStream(self.engine)

    def remove_if_present(self, kind: str, ref: str) -> None:
        """Remove a service, network, secret or config; a missing one is done."""
        with contextlib.suppress(NotFound):
            if kind == "service":
                self.remove_service(ref)
            elif kind == "network":
                self.remove_network(ref)
            else:
                self.remove_object(kind, ref)

