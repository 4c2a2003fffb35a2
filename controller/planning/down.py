"""The plan of ``down``: remove every owned object of a project.

Role: :func:`plan_down` turns the observed state of one project into a
``controller.planning.actions.Plan`` that removes its owned containers and networks,
and its owned volumes (then also the containers' anonymous ones) only when asked;
named volumes are otherwise kept, each with a ``keep_volume`` action that says so.
It needs no desired state: pure, like ``controller.planning.plan.make_plan`` (which
re-exports it). Neighbours: ``controller.planning.observe`` (its input),
``controller.planning.anonymous`` (the anonymous volumes),
``controller.commands.converge`` (``dockwright down``), ``controller.execution.apply``
(runs the plan).
"""

from __future__ import annotations

from collections.abc import Mapping

from controller.planning.actions import Action, Cause, Kind, Plan
from controller.planning.observe import Observed
from runtime.types import LABEL_RESOURCE, State


def plan_down(observed: Observed, *, volumes: bool = False,
              anonymous: Mapping[str, str] | None = None) -> Plan:
    """Remove every owned container and network (and volume with ``volumes``).

    ``anonymous``: the containers' anonymous volumes (name -> container), removed after
    every container with ``volumes`` (``controller.planning.anonymous.of_containers``)."""
    down = Cause.DOWN
    actions = [Action(f"container:{n}", Kind.REMOVE, "container", s.label(LABEL_RESOURCE) or n, n,
                      "down", observed_id=s.id, was_running=s.state is State.RUNNING,
                      cause=down)
               for n, s in sorted(observed.containers.items())]
    ids = tuple(a.id for a in actions)
    for name in sorted(observed.networks):
        if observed.owned_network(name):
            actions.append(Action(f"network:{name}", Kind.REMOVE_NETWORK, "network", name, name,
                                  "down", depends_on=ids, cause=down))
    for name in sorted(observed.volumes):
        if observed.owned_volume(name):
            kind = Kind.REMOVE_VOLUME if volumes else Kind.KEEP_VOLUME
            actions.append(Action(f"volume:{name}", kind, "volume", name, name,
                                  "down --volumes" if volumes else "kept (use --volumes)",
                                  depends_on=ids if volumes else (),
                                  cause=down if volumes else Cause.NONE))
    for name, owner in sorted((anonymous or {}).items()) if volumes else ():
        if not observed.owned_volume(name):  # an owned one is removed above
            actions.append(Action(f"volume:{name}", Kind.REMOVE_VOLUME, "volume", owner, name,
                                  f"anonymous volume of {owner}, down --volumes",
                                  depends_on=ids, cause=down))
    return Plan(observed.project, None, tuple(actions))
