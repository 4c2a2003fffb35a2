"""Desired Swarm services: a recipe realised as one ``ServiceSpec`` per container resource.

Role: the Swarm runtime's counterpart of ``controller.desired.state``: each
``[container.NAME]`` becomes service ``NAME`` whose task template carries the
container's config (read with ``realise`` exactly as for the other runtimes:
env files, secrets, host variables, digests), with ``replicas`` (0 when
``state = "stopped"``), ``mode``, placement, update and rollback policies,
endpoint mode and port publish modes from ``recipe.ServiceKeys``. ``restart``
maps onto the service's restart policy ("no" -> condition ``none``;
"on-failure:N" -> on-failure with N attempts; "always" and "unless-stopped" ->
``any``; unset -> Swarm's own ``any``). Ownership labels go on the SERVICE
(with the spec hash, source file and revision); the task containers carry only
the user's labels and managed-by/project/resource, so a new revision or hash
restarts no task. Secrets and configs become Swarm objects named
``<project>_<name>_<digest12>`` (``SwarmObject``: created before the service,
the content never shown). Built and archived images are referred to in the
``[project] registry`` they are pushed to. The spec hash is taken over the
canonical spec without its volatile labels. Neighbours: ``controller.desired.state``
(realise), ``runtime.swarm.spec`` / ``runtime.swarm.convert`` (the value and its
canonical order); read by ``controller.planning.services``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from controller.desired.hashing import HASH_SCHEME, LABEL_HASH_SCHEME, value_digest
from controller.desired.hostkey import KEYED_PREFIX
from controller.desired.recipe import ContainerRecipe, DesiredImage, Recipe
from controller.desired.state import DesiredContainer, DesiredNetwork, realise
from runtime.swarm import convert
from runtime.swarm.spec import FileRef, Resources, RestartPolicy, ServicePort, ServiceSpec
from runtime.types import (
    LABEL_HASH,
    LABEL_MANAGED_BY,
    LABEL_PROJECT,
    LABEL_REPLICA,
    LABEL_RESOURCE,
    LABEL_REVISION,
    LABEL_SOURCE,
    FileMount,
    RestartSpec,
)

TASK_LABELS = (LABEL_MANAGED_BY, LABEL_PROJECT, LABEL_RESOURCE)  # the only own ones on tasks
VOLATILE = frozenset({LABEL_HASH, LABEL_REVISION, LABEL_SOURCE, LABEL_HASH_SCHEME})
RESTART = {"no": "none", "always": "any", "unless-stopped": "any", "on-failure": "on-failure"}


@dataclass(frozen=True)
class SwarmObject:
    """A secret or config the service needs, named by its content: ``data`` is never shown."""

    kind: str  # "secret" | "config"
    name: str  # <project>_<name>_<digest12>
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class DesiredService:
    """One service as it should run; ``spec`` carries its labels, hash label included."""

    resource: str
    file: str
    spec: ServiceSpec
    image: DesiredImage
    source_ref: str  # the image as built or loaded here, before it is pushed
    state: str = "running"  # running | stopped | absent
    depends_on: tuple[tuple[str, str], ...] = ()
    secret_keys: frozenset[str] = frozenset()
    objects: tuple[SwarmObject, ...] = ()

    @property
    def hash(self) -> str:
        return self.spec.label(LABEL_HASH) or ""

    @property
    def pushed(self) -> bool:
        """Its image is built or loaded here and pushed to the registry nodes pull from."""
        return self.image.source in ("build", "archive")


@dataclass(frozen=True)
class DesiredServices:
    """Everything a Swarm pass should make true."""

    project: str
    revision: str | None
    services: tuple[DesiredService, ...] = ()
    networks: tuple[DesiredNetwork, ...] = ()
    frozen: frozenset[tuple[str, str]] = frozenset()
    invalid_files: frozenset[str] = frozenset()
    errors: tuple[tuple[str, str], ...] = ()  # (resource, message): held, not converged

    def by_name(self) -> dict[str, DesiredService]:
        return {s.spec.name: s for s in self.services}


def spec_hash(spec: ServiceSpec) -> str:
    """Hash of a canonical spec, its volatile labels (and any hash label) left out."""
    stable = dataclasses.replace(spec, labels=tuple(kv for kv in spec.labels
                                                    if kv[0] not in VOLATILE))
    return value_digest({"service": stable})


def _restart(r: RestartSpec, given: bool) -> RestartPolicy:
    if not given:
        return RestartPolicy()
    return RestartPolicy(RESTART[r.name], max_attempts=r.max_retries)


def _image(recipe: Recipe, image: DesiredImage) -> str:
    """The reference nodes pull: an image built or loaded here is pushed to the registry
    tagged with its content digest (a changed build context or archive is a new reference,
    so Swarm rolls it out)."""
    if image.source in ("build", "archive") and image.ref:
        repository = image.ref.rsplit(":", 1)[0] if ":" in image.ref.rsplit("/", 1)[-1] \
            else image.ref
        return f"{recipe.registry}/{repository}:{(image.digest or 'latest')[:12]}"
    return image.ref


class SpecProblem(ValueError):
    """A container resource that cannot become a service (said with the fix)."""


def object_name(project: str, mount: FileMount) -> str:
    """``<project>_<name>_<digest12>``: Swarm data is immutable, a new content is a new
    object (the digest is the keyed one: the name tells nothing of the content)."""
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", mount.name).strip("_.-") or mount.kind
    digest = mount.digest.removeprefix(KEYED_PREFIX)[:12]
    return f"{project}_{base}"[:50] + f"_{digest}"


def _files(recipe: Recipe, d: DesiredContainer) -> tuple[tuple[FileRef, ...],
                                                            tuple[SwarmObject, ...]]:
    contents = dict(d.file_contents)
    refs, objects = [], []
    for m in d.config.files:
        name = object_name(recipe.project, m)
        refs.append(FileRef(m.kind, name, m.target, str(m.uid), str(m.gid), m.mode))
        objects.append(SwarmObject(m.kind, name, contents.get(m.source, b"")))
    return tuple(refs), tuple(objects)


def service_spec(recipe: Recipe, c: ContainerRecipe, d: DesiredContainer) -> ServiceSpec:
    """The desired spec of one resource, without its hash label."""
    cfg, keys = d.config, c.service
    if d.image.source in ("build", "archive") and not recipe.registry:
        raise SpecProblem(f"its image is {'built' if d.image.source == 'build' else 'loaded'} "
                          "here, and Swarm nodes pull images from a registry: name one in "
                          "[project] registry = \"host:port\" (it is pushed there)")
    if d.image.source == "archive" and not d.image.ref:
        raise SpecProblem("an image archive needs a ref on Swarm (image = { archive = ..., "
                          "ref = \"name:tag\" }): nodes pull it by that name")
    if any(p.host_ip not in ("", "0.0.0.0") for p in cfg.ports):
        raise SpecProblem("Swarm publishes a port on every address of a node: remove the "
                          "port's ip")
    labels = dict(cfg.labels)
    own = {k: v for k, v in labels.items() if k.startswith("io.dockwright.")
           and k != LABEL_REPLICA}
    task = {k: v for k, v in labels.items() if not k.startswith("io.dockwright.")}
    task.update({k: labels[k] for k in TASK_LABELS if k in labels})
    replicas = 0 if c.state == "stopped" else keys.replicas
    modes = keys.port_modes or ("ingress",) * len(cfg.ports)
    return convert.canonical(ServiceSpec(
        name=c.resource, image=_image(recipe, d.image), labels=tuple(own.items()),
        container_labels=tuple(task.items()), command=cfg.command, entrypoint=cfg.entrypoint,
        env=cfg.env, workdir=cfg.workdir, user=cfg.user, hostname=cfg.hostname, tty=cfg.tty,
        stdin_open=cfg.stdin_open, stop_signal=cfg.stop_signal,
        stop_grace=10.0 if cfg.stop_timeout is None else cfg.stop_timeout,
        healthcheck=cfg.healthcheck, mounts=cfg.mounts, networks=cfg.networks,
        files=_files(recipe, d)[0],
        restart=_restart(cfg.restart, keys.restart_set),
        resources=Resources(cfg.resources.memory, cfg.resources.cpus, cfg.resources.pids,
                            cfg.resources.memory_reservation, keys.reserve_cpus),
        placement=keys.placement, mode=keys.mode, replicas=replicas, update=keys.update,
        rollback=keys.rollback, endpoint_mode=keys.endpoint_mode,
        ports=tuple(ServicePort(p.container_port, p.host_port, p.protocol, mode)
                    for p, mode in zip(cfg.ports, modes, strict=False)),
        init=cfg.init, cap_add=cfg.cap_add, cap_drop=cfg.cap_drop, sysctls=cfg.sysctls,
        read_only=cfg.read_only, extra_hosts=cfg.extra_hosts, dns=cfg.dns,
        dns_search=cfg.dns_search, dns_opt=cfg.dns_opt, group_add=cfg.group_add,
        ulimits=cfg.ulimits, log_driver=cfg.log_driver, log_options=cfg.log_options))


def with_hash(spec: ServiceSpec) -> ServiceSpec:
    labels = {**dict(spec.labels), LABEL_HASH: spec_hash(spec),
              LABEL_HASH_SCHEME: HASH_SCHEME}
    return dataclasses.replace(spec, labels=tuple(sorted(labels.items())))


# the last result of :func:`services` that read no file: (recipe, revision, variables,
# result). A ``watch`` pass whose snapshot is the same object (``specs.cache`` keeps it)
# gets it again without hashing every spec anew.
_last: tuple[Recipe, str | None, tuple[tuple[str, str], ...], DesiredServices] | None = None


def services(recipe: Recipe, revision: str | None = None,
             environ: Mapping[str, str] | None = None) -> DesiredServices:
    """The desired services of a recipe on this host (files and variables read). The same
    recipe object with the same revision and variables gives the same result, kept when
    it read no file (a secret, config or env file, a build context or an archive may
    change on their own)."""
    global _last
    variables = tuple(sorted((os.environ if environ is None else environ).items()))
    last = _last
    if last is not None and last[0] is recipe and last[1] == revision and last[2] == variables:
        return last[3]
    result = _services(recipe, revision, environ)
    if not any(_reads_files(c) for c in recipe.containers):
        _last = (recipe, revision, variables, result)
    return result


def _reads_files(c: ContainerRecipe) -> bool:
    return bool(c.files) or c.image.source in ("build", "archive") or any(
        step.kind in ("env_file", "secret") for step in c.env)


def _services(recipe: Recipe, revision: str | None,
              environ: Mapping[str, str] | None) -> DesiredServices:
    one_each = dataclasses.replace(recipe, containers=tuple(
        dataclasses.replace(c, names=(c.resource,)) for c in recipe.containers))
    desired = realise(one_each, revision, environ, runtime="swarm")
    realised = {d.resource: d for d in desired.containers}
    out: list[DesiredService] = []
    errors = list(desired.errors)
    for c in recipe.containers:
        d = realised.get(c.resource)
        if d is None:
            continue  # an error of its inputs, in desired.errors
        try:
            spec = with_hash(service_spec(recipe, c, d))
        except SpecProblem as exc:
            errors.append((c.resource, f"{c.file}: container.{c.resource}: {exc}"))
            continue
        out.append(DesiredService(c.resource, c.file, spec, d.image, d.image.ref, c.state,
                                  c.depends_on, d.secret_keys, _files(recipe, d)[1]))
    return DesiredServices(recipe.project, revision, tuple(out), desired.networks,
                           recipe.frozen, recipe.invalid_files, tuple(errors))
