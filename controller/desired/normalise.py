"""Spec models -> :class:`~controller.desired.recipe.Recipe`: the pure half of the desired state.

Role: maps a loaded, valid spec directory onto runtime value types for one
project: project defaults applied, replicas named, links turned into aliases
on ``<project>_default``, env, secrets and configs kept as steps (their files
are read later, by ``controller.desired.state``). Pure: reads no file and no
environment variable, so its result can be kept by ``controller.desired.snapshot``.
The only controller module that reads spec models besides the loader's callers (it
imports pydantic).
Neighbours: input ``specs.result.SpecSet``; output ``controller.desired.recipe``;
names from ``controller.desired.naming``.
"""

from __future__ import annotations

from pathlib import Path

from controller.desired import hostrecipe, naming
from controller.desired.recipe import (
    ContainerRecipe,
    DesiredImage,
    EnvStep,
    FileStep,
    ObjectRecipe,
    Recipe,
    ServiceKeys,
)
from runtime.swarm import spec as swarm
from runtime.types import (
    ContainerConfig,
    HealthSpec,
    MountSpec,
    NetworkAttach,
    NetworkConfig,
    PortBinding,
    RestartSpec,
    VolumeConfig,
    pairs,
)
from specs.filerefs import DEFAULT_MODE
from specs.models import Container, EnvFromFile, EnvFromHost, Network, Volume, default_project
from specs.result import Resource, SpecSet
from specs.swarmkeys import UpdatePolicy


class _Normaliser:
    def __init__(self, specs: SpecSet, project: str) -> None:
        self.specs, self.project = specs, project
        self.defaults = (specs.project or default_project()).defaults
        self.network = naming.default_network(project)
        containers = specs.resources("container")
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
        self.given = {r.name: _container(r).container_name for r in containers}

    def image(self, res: Resource, spec: Container) -> DesiredImage:
        img = spec.image
        pull = img.pull
        if "pull" not in img.model_fields_set and self.defaults.pull:
            pull = self.defaults.pull
        if img.build:
            return DesiredImage(
                ref=img.ref or naming.image_tag(self.project, res.name), source="build",
                pull=pull, context=img.build, dockerfile=img.dockerfile,
                args=pairs(dict(img.args)))
        if img.archive:
            return DesiredImage(ref=img.ref or "", source="archive", pull=pull,
                                archive=img.archive)
        return DesiredImage(ref=img.ref or "", source="ref", pull=pull)

    @staticmethod
    def env(spec: Container) -> tuple[EnvStep, ...]:
        steps = [EnvStep("env_file", "", path) for path in spec.env_file]
        for key, value in spec.env.items():
            if isinstance(value, EnvFromFile):
                steps.append(EnvStep("secret", key, value.file))
            elif isinstance(value, EnvFromHost):
                steps.append(EnvStep("host", key, value.env))
            else:
                steps.append(EnvStep("value", key, value))
        return tuple(steps)

    @staticmethod
    def files(spec: Container) -> tuple[FileStep, ...]:
        steps = [FileStep("secret", name, ref.path_in_container(name), ref.file,
                          DEFAULT_MODE if ref.mode is None else ref.mode, ref.uid or 0,
                          ref.gid or 0) for name, ref in spec.secrets.items()]
        steps += [FileStep("config", target, target, ref.file,
                           DEFAULT_MODE if ref.mode is None else ref.mode, ref.uid or 0,
                           ref.gid or 0) for target, ref in spec.configs.items()]
        return tuple(sorted(steps, key=lambda step: step.target))

    def instance(self, name: str) -> str:
        """The runtime name of a declared container (its first replica's)."""
        count = self.replicas.get(name, 1)
        return naming.instance_names(name, count, self.given.get(name))[0] if count else name

    def networks(self, name: str, spec: Container) -> tuple[NetworkAttach, ...]:
        if spec.network_mode is not None:
            return ()  # host, none, Docker's bridge or another container's namespace
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

    def container(self, res: Resource) -> ContainerRecipe:
        spec = _container(res)
        defaults = self.defaults
        restart = spec.restart or defaults.restart
        stop_timeout = spec.stop_timeout if spec.stop_timeout is not None \
            else defaults.stop_timeout
        hc = spec.healthcheck
        vfrom = tuple((self.instance(v.container), v.read_only) for v in spec.volumes_from)
        image = self.image(res, spec)
        host = hostrecipe.host_fields(spec, self.instance)
        config = ContainerConfig(
            name=res.name, image=image.ref, command=spec.command, entrypoint=spec.entrypoint,
            workdir=spec.workdir, user=spec.user, hostname=spec.hostname,
            labels=pairs({**defaults.labels, **spec.labels, **hostrecipe.asked_label(host)}),
            ports=tuple(PortBinding(p.container, p.protocol, p.ip or "", p.host)
                        for p in spec.ports),
            mounts=tuple(MountSpec(m.type, m.target, m.source, m.read_only, m.size)
                         for m in spec.volumes),
            volumes_from=vfrom, networks=self.networks(res.name, spec),
            restart=RestartSpec(restart.name, restart.max_retries) if restart else RestartSpec(),
            healthcheck=HealthSpec(("NONE",) if hc.disable else hc.test, hc.interval,
                                   hc.timeout, hc.retries, hc.start_period) if hc else None,
            resources=hostrecipe.resources(spec.resources, defaults.resources),
            stdin_open=spec.stdin_open, tty=spec.tty, stop_signal=spec.stop_signal,
            stop_timeout=stop_timeout, **host)
        # a container whose namespaces another joins starts first (depends_on "started")
        depends = {**dict.fromkeys(hostrecipe.mode_targets(spec), "started"),
                   **spec.depends_on}
        return ContainerRecipe(
            resource=res.name, file=res.file,
            names=tuple(naming.instance_names(res.name, spec.replicas, spec.container_name)),
            config=config,
            image=image, env=self.env(spec), state=spec.state,
            depends_on=tuple(sorted(depends.items())),
            links=tuple(dict.fromkeys(link.target for link in spec.links)),
            volumes_from=tuple(v.container for v in spec.volumes_from),
            update_order=spec.update_order, files=self.files(spec),
            service=_service_keys(spec, restart is not None))


def _policy(given: UpdatePolicy | None, order: str | None = None) -> swarm.UpdatePolicy:
    """A Swarm update or rollback policy: the keys given, Swarm's defaults for the rest."""
    base = swarm.UpdatePolicy()
    g = given or UpdatePolicy()
    return swarm.UpdatePolicy(
        parallelism=base.parallelism if g.parallelism is None else g.parallelism,
        delay=base.delay if g.delay is None else g.delay,
        failure_action=g.failure_action or base.failure_action,
        monitor=base.monitor if g.monitor is None else g.monitor,
        max_failure_ratio=base.max_failure_ratio if g.max_failure_ratio is None
        else g.max_failure_ratio,
        order=order or g.order or base.order)


def _service_keys(spec: Container, restart_set: bool) -> ServiceKeys:
    p = spec.placement
    return ServiceKeys(
        replicas=spec.replicas, mode=spec.mode, endpoint_mode=spec.endpoint_mode or "vip",
        placement=swarm.Placement(p.constraints, p.preferences, p.max_per_node or 0)
        if p else swarm.Placement(),
        update=_policy(spec.update, spec.update_order), rollback=_policy(spec.rollback),
        port_modes=tuple(port.mode or "ingress" for port in spec.ports),
        restart_set=restart_set,
        reserve_cpus=spec.resources.reservations.cpus if spec.resources.reservations else None)


def _container(res: Resource) -> Container:
    assert isinstance(res.spec, Container)
    return res.spec


def _volume(res: Resource) -> ObjectRecipe:
    spec = res.spec
    assert isinstance(spec, Volume)
    return ObjectRecipe(res.name, res.file, VolumeConfig(
        res.name, spec.driver, pairs(dict(spec.driver_opts)), pairs(dict(spec.labels))),
        spec.external)


def _network(res: Resource) -> ObjectRecipe:
    spec = res.spec
    assert isinstance(spec, Network)
    return ObjectRecipe(res.name, res.file, NetworkConfig(
        res.name, spec.driver, spec.internal, spec.subnet, pairs(dict(spec.labels))),
        spec.external)


def normalise(specs: SpecSet, project: str) -> Recipe:
    """The recipe of a loaded spec directory for one project (frozen files left out)."""
    n = _Normaliser(specs, project)
    return Recipe(
        project=project, root=str(Path(specs.root).resolve()),
        containers=tuple(n.container(r) for r in specs.resources("container")),
        volumes=tuple(_volume(r) for r in specs.resources("volume")),
        networks=tuple(_network(r) for r in specs.resources("network")),
        frozen=specs.frozen(), invalid_files=frozenset(specs.invalid_files()),
        conditions=tuple(sorted((k, frozenset(v)) for k, v in n.conditions.items())),
        bounds=specs.bounds, warnings=specs.warnings,
        registry=(specs.project.registry or "") if specs.project else "")
