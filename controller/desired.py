"""Desired state: a loaded spec directory, normalised into runtime configs and hashed.

Role: the arrow "validated model -> desired state" of DESIGN.md. For every
valid container resource it builds one ``runtime.types.ContainerConfig`` per
replica (secrets read from files / host env, env_file parsed, project
defaults applied, links turned into aliases on ``<project>_default``,
ownership labels added) and two hashes: ``base_hash`` over everything that
needs a recreate (plus digests of referenced files and the image source) and
``update_hash`` over what can change in place (restart, resources, network
aliases). The image id joins the hash only when known
(:meth:`DesiredContainer.hash_for`).
Neighbours: input from ``specs.result.SpecSet``; output to
``controller.observe`` / ``controller.plan``; names from ``controller.naming``.
Pure apart from reading the files the specs refer to.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from controller import naming
from controller.hashing import file_digest, tree_digest, value_digest
from runtime.types import (
    LABEL_HASH,
    LABEL_MANAGED_BY,
    LABEL_PROJECT,
    LABEL_REPLICA,
    LABEL_RESOURCE,
    LABEL_REVISION,
    LABEL_SOURCE,
    LABEL_UPDATE_HASH,
    MANAGED_BY,
    ContainerConfig,
    HealthSpec,
    MountSpec,
    NetworkAttach,
    NetworkConfig,
    Pairs,
    PortBinding,
    ResourceSpec,
    RestartSpec,
    VolumeConfig,
    pairs,
)
from specs.models import Container, EnvFromFile, EnvFromHost, Network, Volume
from specs.result import Resource, SpecSet

# labels that describe where a spec came from, not what it is: never part of a hash
VOLATILE_LABELS = frozenset({LABEL_HASH, LABEL_UPDATE_HASH, LABEL_REVISION, LABEL_SOURCE})


@dataclass(frozen=True)
class DesiredImage:
    """Where a container's image comes from and how to get it."""

    ref: str  # the reference containers are created from ("" = archive without a ref)
    source: str  # "ref" | "build" | "archive"
    pull: str = "missing"  # missing | always | never
    context: str | None = None
    dockerfile: str | None = None
    args: Pairs = ()
    archive: str | None = None
    digest: str | None = None  # content digest of the build context or the archive

    @property
    def key(self) -> str:
        return self.ref or f"archive:{self.archive}"


@dataclass(frozen=True)
class DesiredContainer:
    """One container instance (one replica) as it should run."""

    resource: str
    name: str
    replica: int
    file: str
    config: ContainerConfig  # ownership labels included, hash labels not yet
    image: DesiredImage
    state: str = "running"  # running | stopped | absent
    depends_on: tuple[tuple[str, str], ...] = ()  # (resource, started|healthy|completed)
    links: tuple[str, ...] = ()  # linked resources
    volumes_from: tuple[str, ...] = ()  # resources whose volumes this one mounts
    secret_keys: frozenset[str] = frozenset()
    files: Pairs = ()  # (what, digest) of files the spec refers to
    base_hash: str = ""
    update_hash: str = ""

    @property
    def requires(self) -> tuple[str, ...]:
        """Resources this container must follow (created after, recreated with)."""
        seen = dict.fromkeys([*(r for r, _ in self.depends_on), *self.links, *self.volumes_from])
        return tuple(r for r in seen if r != self.resource)

    def hash_for(self, image_id: str | None) -> str:
        """The spec hash label; an archive without a ref is identified by its digest alone."""
        if self.image.source == "archive" and not self.image.ref:
            image_id = None
        return value_digest([self.base_hash, image_id or ""])

    def with_aliases(self, extra: Mapping[str, set[str]]) -> DesiredContainer:
        """This container with more network aliases (kept for links of frozen files)."""
        nets = tuple(NetworkAttach(n.network, tuple(sorted(set(n.aliases) | extra.get(
            n.network, set())))) for n in self.config.networks)
        config = dataclasses.replace(self.config, networks=nets)
        return dataclasses.replace(self, config=config, base_hash=base_hash(
            config, self.image, dict(self.files)), update_hash=update_hash(config))

    def final_config(self, image_id: str | None) -> ContainerConfig:
        """The config to create: ownership labels plus both hash labels."""
        labels = dict(self.config.labels)
        labels[LABEL_HASH] = self.hash_for(image_id)
        labels[LABEL_UPDATE_HASH] = self.update_hash
        return dataclasses.replace(self.config, labels=pairs(labels))


@dataclass(frozen=True)
class DesiredVolume:
    name: str
    file: str
    config: VolumeConfig
    external: bool = False


@dataclass(frozen=True)
class DesiredNetwork:
    name: str
    file: str
    config: NetworkConfig
    external: bool = False


@dataclass(frozen=True)
class DesiredState:
    """Everything one pass should make true, plus what it must not touch."""

    project: str
    revision: str | None
    containers: tuple[DesiredContainer, ...] = ()
    volumes: tuple[DesiredVolume, ...] = ()
    networks: tuple[DesiredNetwork, ...] = ()
    frozen: frozenset[tuple[str, str]] = frozenset()  # (kind, name) of invalid files
    invalid_files: frozenset[str] = frozenset()
    errors: tuple[tuple[str, str], ...] = ()  # (resource, message): held, not converged
    conditions: Mapping[str, frozenset[str]] = field(default_factory=dict)  # resource -> asked

    def images(self) -> dict[str, DesiredImage]:
        return {c.image.key: c.image for c in self.containers}

    def by_resource(self) -> dict[str, list[DesiredContainer]]:
        out: dict[str, list[DesiredContainer]] = {}
        for c in self.containers:
            out.setdefault(c.resource, []).append(c)
        return out


def update_hash(config: ContainerConfig) -> str:
    """Hash of what changes in place: restart, resources and network aliases."""
    return value_digest([config.restart, config.resources, config.networks])


def base_hash(config: ContainerConfig, image: DesiredImage, files: Mapping[str, str]) -> str:
    """Hash of everything that needs a recreate: config (minus in-place and volatile parts),
    the image source and the digests of referenced files."""
    hashed = dataclasses.replace(
        config, restart=RestartSpec(), resources=ResourceSpec(),
        networks=tuple(NetworkAttach(n.network) for n in config.networks),  # aliases: in place
        labels=tuple(kv for kv in config.labels if kv[0] not in VOLATILE_LABELS))
    # the pull policy says when to fetch, not what runs: changing it recreates nothing
    return value_digest([hashed, dataclasses.replace(image, pull=""), sorted(files.items())])


class DesiredError(Exception):
    """A resource whose inputs (secret file, host variable) cannot be read."""


def parse_env_file(path: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """``KEY=VALUE`` lines (compose's env_file); ``#`` comments, ``export``, quotes."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise DesiredError(f"cannot read env_file {path}: {exc.strerror}") from exc
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[7:].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep:
            if key in environ:
                out[key] = environ[key]
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key] = value
    return out


def _read_secret(path: Path) -> str:
    try:
        text = path.read_text()
    except OSError as exc:
        raise DesiredError(f"cannot read secret file {path}: {exc.strerror}") from exc
    return text[:-1] if text.endswith("\n") else text


class _Builder:
    def __init__(self, specs: SpecSet, project: str, revision: str | None,
                 environ: Mapping[str, str]) -> None:
        self.specs, self.project, self.revision, self.environ = specs, project, revision, environ
        self.root = specs.root
        self.network = naming.default_network(project)
        containers = specs.resources("container")
        self.declared_networks = {r.name: r for r in specs.resources("network")}
        self.aliases: dict[str, set[str]] = {}
        self.linked: set[str] = set()
        self.conditions: dict[str, set[str]] = {}
        for res in containers:
            spec = _container(res)
            for link in spec.links:
                self.linked |= {res.name, link.target}
                if link.alias != link.target:
                    self.aliases.setdefault(link.target, set()).add(link.alias)
            for dep, cond in spec.depends_on.items():
                self.conditions.setdefault(dep, set()).add(cond)
        self.replicas = {r.name: _container(r).replicas for r in containers}

    def rel(self, path: str) -> str:
        try:
            return Path(path).relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return path

    def owner_labels(self, resource: str, file: str) -> dict[str, str]:
        labels = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_PROJECT: self.project,
                  LABEL_RESOURCE: resource, LABEL_SOURCE: file}
        if self.revision:
            labels[LABEL_REVISION] = self.revision
        return labels

    def image(self, res: Resource, spec: Container) -> DesiredImage:
        img = spec.image
        pull = img.pull
        if "pull" not in img.model_fields_set and self.specs.project.defaults.pull:
            pull = self.specs.project.defaults.pull
        if img.build:
            return DesiredImage(
                ref=img.ref or naming.image_tag(self.project, res.name), source="build",
                pull=pull, context=img.build, dockerfile=img.dockerfile,
                args=pairs(dict(img.args)), digest=tree_digest(Path(img.build)))
        if img.archive:
            return DesiredImage(ref=img.ref or "", source="archive", pull=pull,
                                archive=img.archive, digest=file_digest(Path(img.archive)))
        return DesiredImage(ref=img.ref or "", source="ref", pull=pull)

    def env(self, spec: Container) -> tuple[dict[str, str], set[str], dict[str, str]]:
        env: dict[str, str] = {}
        secrets: set[str] = set()
        files: dict[str, str] = {}
        for path in spec.env_file:
            loaded = parse_env_file(Path(path), self.environ)
            env.update(loaded)
            secrets |= set(loaded)
            files[f"env_file:{self.rel(path)}"] = file_digest(Path(path))
        for key, value in spec.env.items():
            secrets.discard(key)
            if isinstance(value, EnvFromFile):
                env[key] = _read_secret(Path(value.file))
                secrets.add(key)
                files[f"secret:{self.rel(value.file)}"] = file_digest(Path(value.file))
            elif isinstance(value, EnvFromHost):
                if value.env not in self.environ:
                    raise DesiredError(
                        f"env.{key} needs the host variable {value.env}, which is not set "
                        f"(export {value.env}=... before running dockwright)")
                env[key] = self.environ[value.env]
                secrets.add(key)
            else:
                env[key] = value
        return env, secrets, files

    def networks(self, name: str, spec: Container) -> tuple[NetworkAttach, ...]:
        wanted: dict[str, set[str]] = {}
        for net, attach in spec.networks.items():
            runtime_name = self.network if net == "default" else net
            wanted.setdefault(runtime_name, set()).update(attach.aliases)
        if not spec.networks or name in self.linked:
            wanted.setdefault(self.network, set())
        if self.network in wanted:
            wanted[self.network] |= self.aliases.get(name, set())
        return tuple(NetworkAttach(net, tuple(sorted(aliases)))
                     for net, aliases in sorted(wanted.items()))

    def container(self, res: Resource) -> list[DesiredContainer]:
        spec = _container(res)
        defaults = self.specs.project.defaults
        image = self.image(res, spec)
        env, secrets, files = self.env(spec)
        if image.digest:
            files[f"{image.source}:{self.rel(image.context or image.archive or '')}"] = \
                image.digest
        restart = spec.restart or defaults.restart
        res_spec = spec.resources
        if defaults.resources is not None:
            d = defaults.resources
            res_spec = res_spec.model_copy(update={
                "memory": res_spec.memory if res_spec.memory is not None else d.memory,
                "cpus": res_spec.cpus if res_spec.cpus is not None else d.cpus,
                "pids": res_spec.pids if res_spec.pids is not None else d.pids})
        stop_timeout = spec.stop_timeout if spec.stop_timeout is not None \
            else defaults.stop_timeout
        hc = spec.healthcheck
        names = naming.instance_names(res.name, spec.replicas)
        vfrom = tuple((naming.instance_names(v.container, self.replicas.get(v.container, 1))[0]
                       if self.replicas.get(v.container, 1) else v.container, v.read_only)
                      for v in spec.volumes_from)
        base = ContainerConfig(
            name=res.name, image=image.ref, command=spec.command, entrypoint=spec.entrypoint,
            env=pairs(env), workdir=spec.workdir, user=spec.user, hostname=spec.hostname,
            ports=tuple(PortBinding(p.container, p.protocol, p.ip or "", p.host)
                        for p in spec.ports),
            mounts=tuple(MountSpec(m.type, m.target, m.source, m.read_only, m.size)
                         for m in spec.volumes),
            volumes_from=vfrom, networks=self.networks(res.name, spec),
            restart=RestartSpec(restart.name, restart.max_retries) if restart else RestartSpec(),
            healthcheck=HealthSpec(hc.test, hc.interval, hc.timeout, hc.retries,
                                   hc.start_period) if hc else None,
            resources=ResourceSpec(res_spec.memory, res_spec.cpus, res_spec.pids),
            stdin_open=spec.stdin_open, tty=spec.tty, stop_signal=spec.stop_signal,
            stop_timeout=stop_timeout)
        out = []
        for index, name in enumerate(names, start=1):
            labels = {**defaults.labels, **spec.labels, **self.owner_labels(res.name, res.file),
                      LABEL_REPLICA: str(index)}
            if files:
                labels[naming.LABEL_FILES] = json.dumps(files, sort_keys=True,
                                                        separators=(",", ":"))
            config = dataclasses.replace(base, name=name, labels=pairs(labels))
            out.append(DesiredContainer(
                resource=res.name, name=name, replica=index, file=res.file, config=config,
                image=image, state=spec.state, depends_on=tuple(sorted(spec.depends_on.items())),
                links=tuple(dict.fromkeys(link.target for link in spec.links)),
                volumes_from=tuple(v.container for v in spec.volumes_from),
                secret_keys=frozenset(secrets), files=pairs(files),
                base_hash=base_hash(config, image, files),
                update_hash=update_hash(config)))
        return out

    def volume(self, res: Resource) -> DesiredVolume:
        spec = res.spec
        assert isinstance(spec, Volume)
        labels = {**spec.labels, **self.owner_labels(res.name, res.file)}
        return DesiredVolume(res.name, res.file, VolumeConfig(
            res.name, spec.driver, pairs(dict(spec.driver_opts)), pairs(labels)), spec.external)

    def declared_network(self, res: Resource) -> DesiredNetwork:
        spec = res.spec
        assert isinstance(spec, Network)
        labels = {**spec.labels, **self.owner_labels(res.name, res.file)}
        return DesiredNetwork(res.name, res.file, NetworkConfig(
            res.name, spec.driver, spec.internal, spec.subnet, pairs(labels)), spec.external)


def _container(res: Resource) -> Container:
    assert isinstance(res.spec, Container)
    return res.spec


def build_desired(specs: SpecSet, project: str, revision: str | None = None,
                  environ: Mapping[str, str] | None = None) -> DesiredState:
    """Normalise a loaded spec directory into the desired state of one project."""
    builder = _Builder(specs, project, revision, os.environ if environ is None else environ)
    containers: list[DesiredContainer] = []
    errors: list[tuple[str, str]] = []
    for res in specs.resources("container"):
        try:
            containers.extend(builder.container(res))
        except DesiredError as exc:
            errors.append((res.name, f"{res.file}: container.{res.name}: {exc}"))
    volumes = tuple(builder.volume(r) for r in specs.resources("volume"))
    networks = [builder.declared_network(r) for r in specs.resources("network")]
    if builder.network not in {n.name for n in networks} and any(
            builder.network in {a.network for a in c.config.networks} for c in containers):
        networks.append(DesiredNetwork(builder.network, "", NetworkConfig(
            builder.network, labels=pairs(builder.owner_labels(builder.network, "")))))
    return DesiredState(
        project=project, revision=revision, containers=tuple(containers), volumes=volumes,
        networks=tuple(networks), frozen=specs.frozen(),
        invalid_files=frozenset(specs.invalid_files()), errors=tuple(errors),
        conditions={k: frozenset(v) for k, v in builder.conditions.items()})
