"""The Swarm plan: desired services against the live ones, as the same frozen ``Plan``.

Role: the Swarm runtime's "observed state -> plan" (DESIGN.md principle 2):
:func:`observe` lists the project's services, overlay networks and (by name)
services of others, one call each; :func:`make_plan` compares each desired
service with its live spec through ``controller.planning.servicerules`` and
decides, with a typed cause and field-level reasons: ``create`` (not there;
cause ``drift`` when an applied pass had it, ``controller.planning.deployed``),
``update`` (fields differ: Swarm rolls it out; ``noop`` when equal, so a
second ``apply`` sends nothing and no version changes), ``recreate`` (the mode
changed: Swarm refuses that in place), ``remove`` (``state = "absent"``, or
owned and no longer declared: prune, within the deletion budget), networks
created before the services that join them and removed after them. Services
are created in dependency order (``depends_on``: an action waits for its
dependency's action, and ``healthy`` for its tasks). A service whose desired
hash Swarm rolled back (``controller.planning.rollbacks``) is held with a plan
error until the spec changes. Foreign services holding a declared name are
errors, never touched. Volumes are never removed here. ``pull = "always"``:
the service is sent pinned to the digest the registry serves now
(``ref@sha256:...``), and updated (cause ``image``) only when that digest
differs from the live pin. Neighbours:
``controller.desired.service`` (input), ``runtime.swarm.driver`` (observe),
``controller.execution.swarmapply`` (executes the plan). Pure but for ``observe``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from controller.desired.service import DesiredService, DesiredServices
from controller.planning import deployed, rollbacks
from controller.planning.actions import Action, Cause, Kind, Plan, PlanError
from controller.planning.diff import FieldChange, summarise
from controller.planning.observe import owned_by
from controller.planning.servicerules import compare, restarts_tasks
from runtime.swarm.driver import SwarmDriver
from runtime.swarm.spec import ObjectInfo, ServiceInfo
from runtime.types import (
    LABEL_HASH,
    LABEL_PROJECT,
    LABEL_SOURCE,
    NetworkInfo,
)

OBJECT_KINDS = ("secret", "config")


@dataclass(frozen=True)
class ObservedServices:
    """The project's services and networks as the cluster has them now."""

    project: str
    services: dict[str, ServiceInfo] = field(default_factory=dict)  # owned, by name
    foreign: dict[str, ServiceInfo] = field(default_factory=dict)  # declared names, not ours
    networks: dict[str, NetworkInfo] = field(default_factory=dict)  # all, by name
    objects: dict[tuple[str, str], ObjectInfo] = field(default_factory=dict)  # owned secrets
    #                                                       and configs, by (kind, name)
    rolled_back: dict[str, rollbacks.RolledBack] = field(default_factory=dict)
    deployed: frozenset[str] = frozenset()  # services an applied pass saw or created

    def owned_network(self, name: str) -> bool:
        net = self.networks.get(name)
        return net is not None and owned_by(net.labels, self.project)


def observe(driver: SwarmDriver, desired: DesiredServices) -> ObservedServices:
    """List services (all: a declared name may be taken by another's) and networks."""
    owned: dict[str, ServiceInfo] = {}
    foreign: dict[str, ServiceInfo] = {}
    declared = {s.spec.name for s in desired.services}
    listed = driver.list_networks()  # once: names the services' networks too
    for info in driver.list_services(networks=listed, recount=False):  # specs, not counts
        if owned_by(info.spec.labels, desired.project):
            owned[info.spec.name] = info
        elif info.spec.name in declared:
            foreign[info.spec.name] = info
    networks = {n.name: n for n in listed}
    mine = {LABEL_PROJECT: desired.project}
    objects = {(kind, o.name): o for kind in OBJECT_KINDS
               for o in driver.list_objects(kind, mine) if owned_by(o.labels, desired.project)}
    return ObservedServices(desired.project, owned, foreign, networks, objects,
                            rollbacks.read(desired.project), deployed.read(desired.project))



@dataclass
class _Planner:
    desired: DesiredServices
    observed: ObservedServices
    actions: dict[str, Action] = field(default_factory=dict)
    errors: list[PlanError] = field(default_factory=list)
    held: set[str] = field(default_factory=set)
    pins: dict[str, str] = field(default_factory=dict)  # pull = "always": name -> digest

    def add(self, action: Action) -> None:
        self.actions[action.id] = action

    def hold(self) -> None:
        self.held |= {n for k, n in self.desired.frozen if k == "container"}
        for resource, message in self.desired.errors:
            self.held.add(resource)
            self.errors.append(PlanError(resource, message,
                                         "until then this service is left as it runs"))
        for name, info in self.observed.services.items():
            if info.label(LABEL_SOURCE) in self.desired.invalid_files:
                self.held.add(name)
        for name in self.observed.foreign:
            self.held.add(name)
            self.errors.append(PlanError(name, f"service {name} exists and is not owned by "
                                         f"project {self.desired.project}",
                                         "remove or rename that service, or rename this one"))

    def networks(self) -> None:
        for net in self.desired.networks:
            have = self.observed.networks.get(net.name)
            if net.external:
                if have is None:
                    self.errors.append(PlanError(net.name, f"external network {net.name} "
                                                 "does not exist", "create it first"))
                continue
            if have is None:
                self.add(Action(f"network:{net.name}", Kind.CREATE_NETWORK, "network",
                                net.name, net.name, "overlay network not found",
                                network=net.config, cause=Cause.NEW))
            elif have.driver != "overlay":
                self.errors.append(PlanError(
                    net.name, f"network {net.name} is a {have.driver} network on this node, "
                    "not an overlay network every node shares",
                    f"remove it (docker network rm {net.name}) so it is made again as overlay"))

    def service(self, d: DesiredService) -> None:
        name = d.spec.name
        have = self.observed.services.get(name)
        nets = tuple(f"network:{n.network}" for n in d.spec.networks
                     if f"network:{n.network}" in self.actions)
        if d.state == "absent":
            if have is not None:
                self.add(Action(f"service:{name}", Kind.REMOVE, "service", d.resource, name,
                                "state = \"absent\"", observed_id=have.id, service=d))
            return
        pin = self.pins.get(name) or (have.pin if have is not None and
                                      d.image.pull == "always" else "")
        sent = replace(d, spec=replace(d.spec, image=f"{d.spec.image}@{pin}")) if pin else d
        if have is None:
            gone = name in self.observed.deployed
            self.add(Action(f"service:{name}", Kind.CREATE, "service", d.resource, name,
                            "removed outside dockwright" if gone else "not found",
                            depends_on=nets, service=sent,
                            cause=Cause.DRIFT if gone else Cause.NEW))
            return
        changes = compare(d, have.spec)
        if pin and pin != have.pin:  # pull = "always": the registry serves another image
            changes.append(FieldChange("image", f"{d.spec.image}@{have.pin}" if have.pin
                                       else d.spec.image, f"{d.spec.image}@{pin}"))
        failed = self.observed.rolled_back.get(name)
        if failed is not None and failed.holds(d.hash, sent.spec.image) and changes:
            self.held.add(name)
            self.errors.append(PlanError(
                name, f"rolled back: {failed.message} (this spec was rolled back by Swarm "
                "and is not sent again)", "fix the spec, or push a fixed image under the tag "
                "(pull = \"always\" tries it), and apply again" if d.image.pull == "always"
                else "fix the spec (or the image) and apply again"))
            return
        if not changes:
            self.add(Action(f"service:{name}", Kind.NOOP, "service", d.resource, name,
                            "in sync", observed_id=have.id, observed_version=have.version,
                            service=d, cause=Cause.NONE))
            return
        cause = Cause.DRIFT if have.label(LABEL_HASH) == d.hash else Cause.SPEC
        if len(changes) == 1 and changes[0].field == "image" and pin and pin != have.pin:
            cause = Cause.IMAGE
        kind = Kind.RECREATE if any(c.field == "mode" for c in changes) else Kind.UPDATE
        what = "rolling update" if restarts_tasks(changes) else "no task restarted"
        reason = summarise(changes) if kind is Kind.RECREATE else \
            f"{summarise(changes)} ({what})"
        self.add(Action(f"service:{name}", kind, "service", d.resource, name, reason,
                        changes=tuple(changes), depends_on=nets, observed_id=have.id,
                        observed_version=have.version, service=sent, cause=cause))

    def order(self) -> None:
        """A created service waits for the actions of the services it depends on."""
        for a in list(self.actions.values()):
            if a.service is None or a.kind not in (Kind.CREATE, Kind.RECREATE):
                continue
            deps = [f"service:{dep}" for dep, _ in a.service.depends_on
                    if f"service:{dep}" in self.actions and dep not in self.held]
            waits = tuple((dep, cond) for dep, cond in a.service.depends_on
                          if dep not in self.held)
            self.actions[a.id] = replace(a, depends_on=(*a.depends_on, *deps), waits=waits)

    def objects(self, service_actions: list[Action]) -> None:
        """Owned secrets and configs that no desired or live service refers to (old
        revisions once no task uses them), removed after the service actions; Swarm
        refuses while a service still uses one (kept, a later pass removes it)."""
        used = {(f.kind, f.name) for d in self.desired.services for f in d.spec.files}
        used |= {(f.kind, f.name) for name, info in self.observed.services.items()
                 if name in self.held for f in info.spec.files}
        after = tuple(a.id for a in service_actions)
        for (kind, name) in sorted(self.observed.objects):
            if (kind, name) not in used:
                self.add(Action(f"{kind}:{name}", Kind.REMOVE, kind, name, name,
                                "no service uses this revision", depends_on=after,
                                cause=Cause.PRUNE))

    def prune(self, allow_mass_delete: bool) -> PlanError | None:
        declared = {d.spec.name for d in self.desired.services}
        removed = []
        for name, info in sorted(self.observed.services.items()):
            if name not in declared and name not in self.held:
                self.add(Action(f"service:{name}", Kind.REMOVE, "service", name, name,
                                "no longer declared", observed_id=info.id, cause=Cause.PRUNE))
                removed.append(f"service:{name}")
        wanted = {n.name for n in self.desired.networks}
        for name in sorted(self.observed.networks):
            if name not in wanted and self.observed.owned_network(name):
                self.add(Action(f"network:{name}", Kind.REMOVE_NETWORK, "network", name, name,
                                "no longer declared", depends_on=tuple(removed),
                                cause=Cause.PRUNE))
        self.objects([a for a in self.actions.values() if a.object == "service"])
        owned = len(self.observed.services)
        if removed and not allow_mass_delete and (len(removed) == owned
                                                  or 2 * len(removed) > owned):
            return PlanError("", f"the plan would remove {len(removed)} of {owned} services "
                             f"of project {self.desired.project} (more than half or all of "
                             "them)", "check the spec directory and --project; pass "
                             "--allow-mass-delete if this is intended")
        return None


def make_plan(desired: DesiredServices, observed: ObservedServices, *, prune: bool = True,
              allow_mass_delete: bool = False, skip: frozenset[str] = frozenset(),
              pins: dict[str, str] | None = None) -> Plan:
    """Every action of one Swarm pass, each with its reason and cause; ``pins``: the
    digest the registry serves now for each ``pull = "always"`` service's image."""
    p = _Planner(desired, observed, pins=dict(pins or {}))
    p.held |= skip
    p.hold()
    p.networks()
    for d in desired.services:
        if d.resource not in p.held:
            p.service(d)
    p.order()
    refused = p.prune(allow_mass_delete) if prune else None
    order = {k: i for i, k in enumerate(Kind)}
    actions = sorted(p.actions.values(), key=lambda a: (order[a.kind], a.id))
    return Plan(desired.project, desired.revision, tuple(actions), tuple(p.errors), refused,
                desired.frozen, desired.invalid_files)


def plan_down(observed: ObservedServices) -> Plan:
    """Remove every owned service, then every owned network, secret and config (never a
    volume)."""
    down = Cause.DOWN
    actions = [Action(f"service:{n}", Kind.REMOVE, "service", n, n, "down",
                      observed_id=s.id, cause=down)
               for n, s in sorted(observed.services.items())]
    ids = tuple(a.id for a in actions)
    actions += [Action(f"network:{n}", Kind.REMOVE_NETWORK, "network", n, n, "down",
                       depends_on=ids, cause=down)
                for n in sorted(observed.networks) if observed.owned_network(n)]
    actions += [Action(f"{kind}:{n}", Kind.REMOVE, kind, n, n, "down", depends_on=ids,
                       cause=down)
                for kind, n in sorted(observed.objects)]
    return Plan(observed.project, None, tuple(actions))
