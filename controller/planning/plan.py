"""The plan: a frozen, ordered set of actions, each with its reason.

Role: the arrow "field diff -> plan" of DESIGN.md (principle 2: the plan is a
value). :func:`make_plan` is pure: desired state + observed state + options
in, a :class:`Plan` out (the value types live in ``controller.planning.actions`` and
are re-exported here). ``diff``, ``apply --dry-run`` and ``apply`` all build
this same object; ``controller.execution.apply`` executes exactly it, and
``controller.commands.render`` prints it as text or JSON. Safety rules live here:
frozen resources are never touched, named volumes are kept unless asked,
foreign containers with a declared name are errors, mass deletion is refused.
The plan of ``down`` is built by ``controller.planning.down`` (re-exported here).
Neighbours: ``controller.desired.state``, ``controller.planning.observe``,
``controller.planning.compare`` (field changes) before; ``controller.execution.apply`` after.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from controller.compose.labels import PROJECT as COMPOSE_PROJECT
from controller.compose.labels import SERVICE as COMPOSE_SERVICE
from controller.desired.naming import LABEL_CONTEXT_DIGEST, LABEL_FILES, OLD_SUFFIX
from controller.desired.state import DesiredContainer, DesiredState
from controller.planning import compare
from controller.planning.actions import (
    PASSIVE,
    Action,
    Cause,
    Kind,
    Plan,
    PlanError,
)
from controller.planning.diff import FieldChange, summarise
from controller.planning.down import plan_down
from controller.planning.external import missing_external
from controller.planning.livediff import live_changes
from controller.planning.observe import Observed
from controller.planning.recovery import recover
from runtime.types import (
    LABEL_MANAGED_BY,
    LABEL_PROJECT,
    LABEL_RESOURCE,
    LABEL_SOURCE,
    ContainerSummary,
    State,
)

__all__ = ["PASSIVE", "Action", "Kind", "Plan", "PlanError", "make_plan",
           "plan_down"]


@dataclass
class _Planner:
    desired: DesiredState
    observed: Observed
    prune: bool
    prune_volumes: bool
    skip: frozenset[str]
    actions: dict[str, Action] = field(default_factory=dict)
    errors: list[PlanError] = field(default_factory=list)
    held: set[str] = field(default_factory=set)  # resources left alone
    used: set[str] = field(default_factory=set)  # undeclared containers a recovery uses

    def add(self, action: Action) -> None:
        self.actions[action.id] = action

    def hold_frozen(self) -> None:
        self.held |= {n for k, n in self.desired.frozen if k == "container"}
        self.held |= self.skip
        for resource, message in self.desired.errors:
            self.held.add(resource)
            self.errors.append(PlanError(resource, message,
                                         "until then this container is left as it runs"))
        for name, have in self.observed.containers.items():
            source = have.label(LABEL_SOURCE)
            if source and source in self.desired.invalid_files:
                self.held.add(have.label(LABEL_RESOURCE) or name)

    def images(self) -> set[str]:
        """Image actions; returns the keys of images fetched in this plan."""
        fetched: set[str] = set()
        users: dict[str, list[DesiredContainer]] = {}
        for c in self.desired.containers:
            if c.resource not in self.held and c.state != "absent":
                users.setdefault(c.image.key, []).append(c)
        for key, group in sorted(users.items()):
            img = group[0].image
            info = self.observed.images.get(key)
            kind, reason, cause = None, "", Cause.NEW if info is None else Cause.SPEC
            if img.source == "build":
                if info is None:
                    kind, reason = Kind.BUILD, f"image {img.ref} not found"
                elif info.labels and dict(info.labels).get(LABEL_CONTEXT_DIGEST) != img.digest:
                    kind, reason = Kind.BUILD, "build context changed"
                elif not info.labels or LABEL_CONTEXT_DIGEST not in dict(info.labels):
                    kind, reason, cause = Kind.BUILD, "image carries no context digest", \
                        Cause.DRIFT
            elif img.source == "archive" and not img.ref:
                if any(c.name not in self.observed.containers or self.archive_changed(c)
                       for c in group):
                    kind, reason = Kind.LOAD, f"archive {img.archive} has no ref: loaded to create"
            elif img.source == "archive":
                if info is None:
                    kind, reason = Kind.LOAD, f"image {img.ref or img.archive} not found"
                elif any(self.archive_changed(c) for c in group):
                    kind, reason = Kind.LOAD, "archive changed"
            elif info is None and img.pull == "never":
                for c in group:
                    self.held.add(c.resource)
                    self.errors.append(PlanError(
                        c.resource, f"image {img.ref} is not present and pull = \"never\"",
                        "build or load the image first, or set pull = \"missing\""))
            elif info is None:
                kind, reason = Kind.PULL, f"image {img.ref} not found"
            elif img.pull == "always":
                kind, reason = Kind.PULL, "pull = \"always\": recreated if the image changed"
                cause = Cause.NONE
            if kind is not None:
                fetched.add(key)
                refresh = info is not None and kind is Kind.PULL
                self.add(Action(f"image:{key}", kind, "image", group[0].resource,
                                img.ref or img.archive or key, reason, image=img,
                                refresh=refresh, cause=cause))
        return fetched

    def archive_changed(self, c: DesiredContainer) -> bool:
        have = self.observed.containers.get(c.name)
        if have is None:
            return False
        return bool(compare.file_changes(c, have.label(LABEL_FILES)))

    def container(self, c: DesiredContainer, fetched: set[str]) -> None:
        """The action for one declared container; fields decide, hashes only say why."""
        aid = f"container:{c.name}"
        have = self.observed.containers.get(c.name)
        base = Action(aid, Kind.NOOP, "container", c.resource, c.name, "", container=c,
                      observed_id=have.id if have else None,
                      observed_image=have.image_id if have else None,
                      was_running=bool(have and have.state is State.RUNNING), cause=Cause.NONE)
        if have is None:
            if c.state == "absent":
                self.add(replace(base, reason="state = \"absent\""))
                return
            self.add(replace(base, kind=Kind.CREATE, reason="not found", cause=Cause.NEW))
            return
        if c.state == "absent":
            self.add(replace(base, kind=Kind.REMOVE, reason="state = \"absent\"",
                             cause=Cause.SPEC))
            return
        live = self.observed.inspected.get(c.name)
        if live is None:  # removed between the list and the inspect (by id: not renamed)
            self.add(replace(base, kind=Kind.CREATE, reason="gone while it was observed",
                             observed_id=None, was_running=False, cause=Cause.DRIFT))
            return
        # the inspect came after the list, and Docker's list shows a pause only once the
        # pause event is out (a pass that event started lists it running): the inspect
        # decides, except for a container being removed (its destroy event starts the next
        # pass, which creates it again)
        if live.summary.state not in (State.REMOVING, State.DEAD):
            have = live.summary
        base = replace(base, was_running=have.state is State.RUNNING)
        if have.state is State.REMOVING:  # `docker rm` under way: its destroy event follows
            self.add(replace(base, reason="being removed: made again once it is gone"))
            return
        if self.desired.invalid_files:  # links of frozen files are unknown: keep aliases
            c = c.with_aliases({n.network: set(n.aliases) for n in live.config.networks})
            base = replace(base, container=c)
        image_id = self.observed.image_id(c.image.key)
        recorded = self.observed.hashes(have)
        same_spec = recorded is not None and recorded.spec == c.hash_for(image_id)
        same_update = recorded is not None and recorded.update == c.update_hash
        changes = live_changes(c, live, self.observed, same_spec,
                               frozenset(n.name for n in self.desired.networks))
        new_image = bool(image_id and have.image_id != image_id and c.image.key not in fetched)
        if new_image:  # the reason, first (fields that differ by the new image's defaults
            changes.insert(0, FieldChange("image_id", have.image_id, image_id))  # follow)
        if any(not ch.in_place for ch in changes):
            self.add(replace(base, kind=Kind.RECREATE, reason=summarise(changes),
                             changes=tuple(changes),
                             cause=Cause.IMAGE if new_image else
                             Cause.DRIFT if same_spec else Cause.SPEC))
            return
        recheck = c.image.key in fetched
        state_kind, state_reason = self.state_action(c, have)
        # in-place fields that differ from an unchanged spec drifted; paused is always drift
        drift = same_update or not changes
        if have.state is State.PAUSED:
            changes.append(FieldChange("state", "paused", c.state, in_place=True))
        if changes:
            reason = summarise(changes) + (f"; {state_reason}" if state_kind else "")
            self.add(replace(base, kind=Kind.UPDATE, reason=reason, changes=tuple(changes),
                             recheck_image=recheck, cause=Cause.DRIFT if drift else Cause.SPEC))
        elif state_kind:
            cause = Cause.SPEC if state_kind is Kind.STOP else Cause.DRIFT
            self.add(replace(base, kind=state_kind, reason=state_reason, recheck_image=recheck,
                             cause=cause))
        elif not (same_spec and same_update) and not recheck:
            scheme = "no hash" if recorded is None else "another spec hash"
            reason = f"in sync; adopted ({scheme} on record, fields equal: hashes recorded, " \
                "not restarted)"
            if have.label(LABEL_MANAGED_BY) is None:
                reason = (f"in sync; adopted from docker-compose project "
                          f"{have.label(COMPOSE_PROJECT)} (fields equal: not restarted)")
            self.add(replace(base, reason=reason, cause=Cause.ADOPT))
        else:
            reason = "image is fetched: recreated if its id changes" if recheck else "in sync"
            self.add(replace(base, reason=reason, recheck_image=recheck))

    def state_action(self, c: DesiredContainer, have: ContainerSummary) -> tuple[Kind | None, str]:
        running = have.state in (State.RUNNING, State.RESTARTING)
        if c.state == "stopped" and running:
            return Kind.STOP, "state = \"stopped\""
        if c.state == "running" and not running and have.state is not State.PAUSED:
            if have.exit_code == 0 and "completed" in self.desired.conditions.get(c.resource, ()):
                return None, ""
            detail = f" (exit code {have.exit_code})" if have.exit_code is not None else ""
            return Kind.START, f"not running: {have.state.value}{detail}"
        return None, ""

    def follow(self) -> None:
        """Containers that use a recreated one (links, depends_on, volumes_from) follow it."""
        changed = True
        while changed:
            changed = False
            recreated = {a.resource for a in self.actions.values() if a.kind is Kind.RECREATE}
            created = {a.name for a in self.actions.values() if a.kind is Kind.CREATE}
            for a in list(self.actions.values()):
                c = a.container
                if c is None or a.observed_id is None or a.kind in (Kind.RECREATE, Kind.REMOVE):
                    continue
                # volumes_from binds the volumes of one container: a new one (it was removed
                # by hand) means new volumes, so the user must follow it too
                leader = next((r for r in c.requires if r in recreated), None) or next(
                    (n for n, _ in c.config.volumes_from if n in created), None)
                if leader is not None and c.state != "absent":
                    self.add(replace(a, kind=Kind.RECREATE, reason=f"follows recreated {leader}",
                                     recheck_image=False, cause=Cause.FOLLOW))
                    changed = True

    def storage(self) -> None:
        for v in self.desired.volumes:
            if ("volume", v.name) in self.desired.frozen or v.external:
                continue
            if v.name not in self.observed.volumes:
                self.add(Action(f"volume:{v.name}", Kind.CREATE_VOLUME, "volume", v.name, v.name,
                                "not found", volume=v.config, cause=Cause.NEW))
        for n in self.desired.networks:
            if ("network", n.name) in self.desired.frozen or n.external:
                continue
            have = self.observed.networks.get(n.name)
            if have is None:
                self.add(Action(f"network:{n.name}", Kind.CREATE_NETWORK, "network", n.name,
                                n.name, "not found", network=n.config, cause=Cause.NEW))
                continue
            want = n.config
            diffs = [f"{k} {getattr(have, k)} -> {getattr(want, k)}"
                     for k in ("driver", "internal", "subnet")
                     if getattr(want, k) is not None and getattr(have, k) != getattr(want, k)]
            if diffs and self.observed.owned_network(n.name):
                self.errors.append(PlanError(
                    n.name, f"network {n.name} differs from its spec ({', '.join(diffs)}); "
                    "a network is not changed in place",
                    "run `dockwright down DIR`, then `dockwright apply DIR` to recreate it"))

    def prune_objects(self) -> list[str]:
        """Removals of owned objects that are not declared; returns pruned container ids."""
        desired_names = {c.name for c in self.desired.containers}
        resources = {c.resource for c in self.desired.containers}
        pruned = []
        for name, have in sorted(self.observed.containers.items()):
            service = None if have.label(LABEL_MANAGED_BY) else have.label(COMPOSE_SERVICE)
            resource = have.label(LABEL_RESOURCE) or service or name
            if name in desired_names or resource in self.held or name in self.used:
                continue
            aid = f"container:{name}"
            reason = "replica beyond the declared count" if resource in resources else \
                "not declared"
            if service is not None and resource in resources:  # adopted from compose
                reason = f"docker-compose's container of {service}: replaced by its declared name"
            cause = Cause.PRUNE
            if OLD_SUFFIX in name:
                reason, cause = "left over from an interrupted recreate", Cause.RECOVERY
            if self.prune and self.desired.invalid_files:
                self.add(Action(aid, Kind.NOOP, "container", resource, name,
                                f"{reason}; kept: no pruning while a spec file is invalid",
                                observed_id=have.id, cause=Cause.NONE))
            elif self.prune:
                self.add(Action(aid, Kind.REMOVE, "container", resource, name,
                                f"{reason} (pruned)", observed_id=have.id,
                                was_running=have.state is State.RUNNING, cause=cause))
                pruned.append(aid)
            else:
                self.add(Action(aid, Kind.NOOP, "container", resource, name,
                                f"{reason}; kept (pruning is off)", observed_id=have.id,
                                cause=Cause.NONE))
        wanted_volumes = {v.name for v in self.desired.volumes}
        for name, vol in sorted(self.observed.volumes.items()):
            if name in wanted_volumes or not self.observed.owned_volume(name) or (
                    "volume", name) in self.desired.frozen or self.from_invalid(vol.labels):
                continue
            if self.prune and self.prune_volumes and not self.desired.invalid_files:
                self.add(Action(f"volume:{name}", Kind.REMOVE_VOLUME, "volume", name, name,
                                "not declared (--prune-volumes)", cause=Cause.PRUNE))
            else:
                self.add(Action(f"volume:{name}", Kind.KEEP_VOLUME, "volume", name, name,
                                "not declared; named volumes are kept (use --prune-volumes)",
                                cause=Cause.NONE))
        wanted_networks = {n.name for n in self.desired.networks}
        for name, net in sorted(self.observed.networks.items()):
            if name in wanted_networks or not self.observed.owned_network(name) or (
                    "network", name) in self.desired.frozen or self.from_invalid(net.labels):
                continue
            if self.prune and not self.desired.invalid_files:
                self.add(Action(f"network:{name}", Kind.REMOVE_NETWORK, "network", name, name,
                                "not declared (pruned)", cause=Cause.PRUNE))
        return pruned

    def from_invalid(self, labels: tuple[tuple[str, str], ...]) -> bool:
        return dict(labels).get(LABEL_SOURCE, "") in self.desired.invalid_files

    def foreign(self) -> None:
        for c in self.desired.containers:
            other = self.observed.foreign.get(c.name)
            if other is not None and c.resource not in self.held:
                self.held.add(c.resource)
                owner = other.label(LABEL_PROJECT)
                whose = f"belongs to dockwright project {owner}, not to" if owner else \
                    "is not managed by dockwright project"
                self.errors.append(PlanError(
                    c.resource,
                    f"container {c.name} (id {other.id[:12]}) exists but {whose} "
                    f"{self.desired.project}; it is left untouched",
                    f"rename or remove container {c.name} yourself, or declare another name"))

    def edges(self, pruned: list[str]) -> None:
        by_resource: dict[str, list[str]] = {}
        for a in self.actions.values():
            if a.object == "container" and a.container is not None:
                by_resource.setdefault(a.resource, []).append(a.id)
        container_ids = [a.id for a in self.actions.values() if a.object == "container"]
        for a in list(self.actions.values()):
            deps: list[str] = list(a.depends_on)  # a recovery's order (``planning.recovery``)
            if a.kind in (Kind.REMOVE_NETWORK, Kind.REMOVE_VOLUME):
                deps = [i for i in container_ids if self.actions[i].changing]
            c = a.container
            if c is not None and a.kind in (Kind.CREATE, Kind.RECREATE, Kind.RENAME, Kind.START,
                                            Kind.UPDATE, Kind.NOOP):
                deps += [f"image:{c.image.key}", *(f"network:{n.network}"
                                                    for n in c.config.networks)]
                deps += [f"volume:{m.source}" for m in c.config.mounts if m.type == "volume"]
                for r in c.requires:
                    deps += by_resource.get(r, [])
                if a.kind in (Kind.CREATE, Kind.RECREATE, Kind.RENAME):
                    deps += pruned
                waits = tuple((d.name, cond) for r, cond in c.depends_on
                              for d in self.desired.containers if d.resource == r
                              and d.state == "running" and d.resource not in self.held)
                a = replace(a, waits=waits)
            deps = [d for d in dict.fromkeys(deps) if d in self.actions and d != a.id]
            self.actions[a.id] = replace(a, depends_on=tuple(deps))


def make_plan(desired: DesiredState, observed: Observed, *, prune: bool = True,
              prune_volumes: bool = False, allow_mass_delete: bool = False,
              skip: frozenset[str] = frozenset()) -> Plan:
    """Compare desired with observed state and decide every action, with its reason."""
    p = _Planner(desired, observed, prune, prune_volumes, skip)
    p.hold_frozen()
    p.foreign()
    for resource, error in missing_external(desired, observed):
        if resource not in p.held:
            p.held.add(resource)
            p.errors.append(error)
    fetched = p.images()
    for c in desired.containers:
        if c.resource not in p.held:
            p.container(c, fetched)
    found = recover(desired, observed, p.actions, p.held)  # what an interrupted pass left
    p.actions.update((a.id, a) for a in found.actions)
    p.used |= found.used
    p.follow()
    p.storage()
    pruned = p.prune_objects()
    p.edges(pruned)
    refused = None
    owned = len(observed.containers)
    declared = {c.resource for c in desired.containers}
    # leftovers of a crash and replicas of a still-declared resource don't count
    counted = [a for a in pruned if OLD_SUFFIX not in a and p.actions[a].resource not in declared]
    owned -= len(pruned) - len(counted)
    if counted and not allow_mass_delete and (len(counted) == owned or 2 * len(counted) > owned):
        refused = PlanError(
            "", f"the plan would remove {len(counted)} of {owned} containers of project "
            f"{desired.project} (more than half or all of them)",
            "check the spec directory and --project; pass --allow-mass-delete if this is intended")
    order = {k: i for i, k in enumerate(Kind)}
    actions = sorted(p.actions.values(), key=lambda a: (order[a.kind], a.id))
    images = tuple(sorted((k, i.id) for k, i in observed.images.items() if i is not None))
    return Plan(desired.project, desired.revision, tuple(actions), tuple(p.errors), refused,
                desired.frozen, desired.invalid_files, images)
