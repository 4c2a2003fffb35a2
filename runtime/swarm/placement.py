"""Which nodes a service's placement constraints admit, decided as Swarm decides it.

Role: :func:`eligible` counts the nodes where Swarm's global orchestrator runs one
task of a global service: ready, availability ``active``, and matching every
placement constraint (moby/swarmkit ``manager/constraint``: ``node.id``,
``node.hostname``, ``node.role``, ``node.platform.os``/``.arch``,
``node.labels.K``, ``engine.labels.K``; ``==``/``!=`` compared without case; a
label a node lacks is the empty value). ``None`` when a constraint uses a key it
cannot read (``node.ip``, a future key): the caller must not guess. The Swarm
executor waits for that many tasks before it calls a global service converged:
right after a create, Swarm reports 0 of 0 desired tasks until its orchestrator
has made them, which is not converged. Neighbours: ``runtime.swarm.spec.NodeInfo``
(what it reads), ``controller.execution.swarmapply`` (its caller).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from runtime.swarm.spec import NodeInfo

_CONSTRAINT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(==|!=)\s*(.*?)\s*$")


def _value(node: NodeInfo, key: str) -> str | None:
    """The node's value for a constraint key ("" for a missing label), None: unknown key."""
    lowered = key.lower()
    fixed = {"node.id": node.id, "node.hostname": node.hostname, "node.role": node.role,
             "node.platform.os": node.os, "node.platform.arch": node.arch}
    if lowered in fixed:
        return fixed[lowered]
    for prefix, labels in (("node.labels.", node.labels), ("engine.labels.", node.engine_labels)):
        if lowered.startswith(prefix) and len(key) > len(prefix):
            return dict(labels).get(key[len(prefix):], "")
    return None


def _admits(node: NodeInfo, constraints: Iterable[str]) -> bool | None:
    for constraint in constraints:
        found = _CONSTRAINT.match(constraint)
        value = _value(node, found.group(1)) if found else None
        if found is None or value is None:
            return None
        if (value.lower() == found.group(3).lower()) != (found.group(2) == "=="):
            return False
    return True


def eligible(nodes: Sequence[NodeInfo], constraints: Sequence[str]) -> int | None:
    """How many nodes run a task of a global service with these constraints; None: a
    constraint this module cannot evaluate."""
    count = 0
    for node in nodes:
        if node.state != "ready" or node.availability != "active":
            continue
        admits = _admits(node, constraints)
        if admits is None:
            return None
        count += admits
    return count
