"""Recovery: what an interrupted pass or a hand rename left, planned back into shape.

Role: a step of ``controller.planning.plan.make_plan``, after every declared
container has its action and before followers and pruning. Pure. It looks at
the owned containers that carry no declared name:

- ``NAME_dw-old-<id>``: the old copy of an interrupted recreate
  (``controller.execution.replace`` renames it aside first; a SIGKILL, a crash
  or a daemon restart can stop the pass anywhere after that). When ``NAME`` does
  not run, the recreate is resumed in its normal order (a RECREATE with a
  :class:`~controller.planning.actions.Resume`): the old copy stops, the new one
  (the copy already created under ``NAME`` when it matches the spec, else a
  fresh one mounting the old copy's anonymous volumes) starts, and the old copy
  is removed only once the new one runs; if the new one fails, the old copy gets
  its name back and runs again. When ``NAME`` runs, the old copy is stopped and
  removed after ``NAME``'s own action succeeded.
- a container of a declared resource under another name (renamed by hand, or
  named for another replica count: ``web`` -> ``web-1``): when the declared name
  is free, that container takes it: renamed back when its hashes say it is what
  the spec wants (Kind.RENAME), else replaced by a new container under the
  declared name that mounts its anonymous volumes (a RECREATE). Nothing of it is
  pruned as "beyond the declared count" any more.

Every action made here has ``Cause.RECOVERY``. Neighbours:
``controller.planning.plan`` (caller; pruning skips the containers
:func:`recover` used), ``controller.planning.actions`` (values),
``controller.execution.apply`` / ``controller.execution.replace`` (execution).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from controller.desired.naming import OLD_SUFFIX
from controller.desired.state import DesiredContainer, DesiredState
from controller.planning.actions import Action, Cause, Kind, Resume
from controller.planning.observe import Observed
from runtime.types import LABEL_RESOURCE, ContainerSummary, State

LIVE = (State.RUNNING, State.RESTARTING, State.PAUSED)


def aside_of(name: str) -> str | None:
    """The declared name of a container renamed aside by a recreate, else None."""
    base, found, rest = name.rpartition(f"{OLD_SUFFIX}-")
    return base if found and base and re.fullmatch(r"[0-9a-f]+", rest) else None


@dataclass
class Recovered:
    """What :func:`recover` planned: actions (replacing those of the same id) and the
    names of the observed containers they use (never pruned)."""

    actions: list[Action] = field(default_factory=list)
    used: set[str] = field(default_factory=set)


def recover(desired: DesiredState, observed: Observed, actions: Mapping[str, Action],
            held: set[str]) -> Recovered:
    """Plan the repairs; ``actions``: the declared containers' actions so far."""
    out = Recovered()
    declared = {c.name: c for c in desired.containers
                if c.resource not in held and c.state != "absent"}
    names = {c.name for c in desired.containers}
    aside: dict[str, list[ContainerSummary]] = {}
    others: dict[str, list[ContainerSummary]] = {}  # by resource
    for name, have in sorted(observed.containers.items()):
        if name in names:
            continue
        resource = have.label(LABEL_RESOURCE) or name
        base = aside_of(name)
        if base is not None:
            c = declared.get(base)
            if c is not None and c.resource == resource:
                aside.setdefault(base, []).append(have)
        elif resource not in held:
            others.setdefault(resource, []).append(have)
    for base, copies in sorted(aside.items()):
        old = sorted(copies, key=lambda s: (s.state not in LIVE, _name(s)))[0]
        out.used.add(_name(old))
        out.actions.append(_resume(declared[base], old, observed, actions))
    for c in sorted(declared.values(), key=lambda c: c.name):
        if c.name in observed.containers or c.name in aside:
            continue
        free = [s for s in others.get(c.resource, ()) if _name(s) not in out.used]
        if free:
            found = _pick(c, free, observed)
            out.used.add(_name(found))
            out.actions.append(_take_over(c, found, observed, actions))
    return out


def _name(s: ContainerSummary) -> str:
    return s.name.lstrip("/")


def _resume(c: DesiredContainer, old: ContainerSummary, observed: Observed,
            actions: Mapping[str, Action]) -> Action:
    aid = f"container:{c.name}"
    current = actions[aid]
    have = observed.containers.get(c.name)
    old_name = _name(old)
    if have is not None and (have.state in LIVE or c.state != "running"):
        # the new copy runs (or is meant to stay stopped): the old copy only goes, after it
        state = "runs" if have.state in LIVE else "is stopped as declared"
        return Action(f"container:{old_name}", Kind.REMOVE, "container", c.resource, old_name,
                      f"old copy of an interrupted recreate of {c.name}, which {state}: "
                      "stopped, then removed", observed_id=old.id,
                      was_running=old.state is State.RUNNING, depends_on=(aid,),
                      cause=Cause.RECOVERY)
    reuse = have is not None and current.kind in (Kind.START, Kind.NOOP)
    if have is None:
        how = f"{c.name} not created yet: created from the spec with its volumes"
    elif reuse:
        how = f"{c.name} created, not started: started"
    else:
        how = f"{c.name} created from an older spec: created again"
    return replace(current, kind=Kind.RECREATE, cause=Cause.RECOVERY, changes=(),
                   observed_id=old.id, observed_image=old.image_id,
                   was_running=old.state is State.RUNNING, recheck_image=False,
                   resume=Resume(old_name, have.id if have else None, reuse),
                   reason=f"resumes an interrupted recreate ({old_name} {old.state.value}; "
                          f"{how}; {old_name} stopped first, removed once {c.name} runs)")


def _matches(c: DesiredContainer, s: ContainerSummary, observed: Observed) -> bool:
    """Its recorded hashes (current scheme) are the spec's: what the spec wants, renamed."""
    entry = observed.hashes(s)
    return entry is not None and (entry.spec, entry.update) == (
        c.hash_for(observed.image_id(c.image.key)), c.update_hash)


def _replica_name(c: DesiredContainer, name: str) -> bool:
    return name == c.resource or re.fullmatch(rf"{re.escape(c.resource)}-\d+", name) is not None


def _pick(c: DesiredContainer, free: list[ContainerSummary],
          observed: Observed) -> ContainerSummary:
    """The container that takes ``c``'s name: one that matches the spec, else the first by
    replica number (``web-1`` before ``web-2`` before ``web-10``)."""

    def order(s: ContainerSummary) -> tuple[bool, int, str]:
        digits = re.search(r"(\d+)$", _name(s))
        return (not _matches(c, s, observed), int(digits.group(1)) if digits else 0, _name(s))

    return sorted(free, key=order)[0]


def _take_over(c: DesiredContainer, found: ContainerSummary, observed: Observed,
               actions: Mapping[str, Action]) -> Action:
    current = actions[f"container:{c.name}"]
    name = _name(found)
    replica = _replica_name(c, name)
    base = replace(current, observed_id=found.id, observed_image=found.image_id,
                   was_running=found.state is State.RUNNING, cause=Cause.RECOVERY,
                   changes=(), recheck_image=False)
    if _matches(c, found, observed):
        why = f"replica naming changed (was {name})" if replica else \
            f"renamed by hand (found as {name})"
        return replace(base, kind=Kind.RENAME, reason=f"{why}: renamed back")
    why = f"replica naming changed (was {name})" if replica else \
        f"renamed by hand (found as {name}) and its spec changed"
    return replace(base, kind=Kind.RECREATE, reason=f"{why}: carried its volumes to {c.name}")
