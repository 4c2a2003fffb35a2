"""External networks and volumes that do not exist: the containers using them wait.

Role: an object declared ``external = true`` belongs to someone else; dockwright
never makes it. When it is missing, every container that uses it is left alone
with a plan error naming it and the fix: a connect or create would fail, and
for a volume Docker would make an empty one in its place (which a database
would then initialise). Neighbours: ``controller.planning.plan`` holds the
resources returned here; ``controller.execution.status`` shows the object
absent. Pure.
"""

from __future__ import annotations

from collections.abc import Iterator

from controller.desired.state import DesiredState
from controller.planning.actions import PlanError
from controller.planning.observe import Observed


def missing_external(desired: DesiredState, observed: Observed) -> Iterator[tuple[str, PlanError]]:
    """(container resource, error) for each container using a missing external object."""
    missing = {("network", n.name) for n in desired.networks
               if n.external and n.name not in observed.networks}
    missing |= {("volume", v.name) for v in desired.volumes
                if v.external and v.name not in observed.volumes}
    for c in desired.containers if missing else ():
        uses = [("network", n.network) for n in c.config.networks] + [
            ("volume", m.source) for m in c.config.mounts if m.type == "volume"]
        gone = next((u for u in uses if u in missing), None)
        if gone is None or c.state == "absent":
            continue
        kind, name = gone
        yield c.resource, PlanError(
            c.resource, f"{kind} {name} is declared external but does not exist",
            f"create it (docker {kind} create {name}), or drop external = true so that "
            "dockwright makes it")
