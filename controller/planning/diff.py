"""Field changes with reasons: the vocabulary of ``diff`` and of plan reasons.

Role: a :class:`FieldChange` says which field of one object differs, from
what to what, whether Docker can change it in place, and whether the value is
a secret (then it is shown as ``***``, never in clear). :func:`summarise`
turns a list of changes into the one-line reason of an action ("env.FOO
changed, ports changed"). Neighbours: produced by ``controller.planning.compare``,
carried by ``controller.planning.plan`` actions, printed by the CLI. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MASK = "***"


@dataclass(frozen=True)
class FieldChange:
    """One differing field: ``field`` is a path such as ``env.FOO`` or ``ports``."""

    field: str
    old: str | None  # None: absent / runtime default
    new: str | None
    in_place: bool = False  # restart policy, resources: no recreate needed
    secret: bool = False

    @property
    def verb(self) -> str:
        if self.old is None and self.new is not None:
            return "added"
        if self.new is None and self.old is not None:
            return "removed"
        return "changed"

    @property
    def reason(self) -> str:
        return f"{self.field} {self.verb}"

    def shown(self, value: str | None) -> str:
        if value is None:
            return "(unset)"
        return MASK if self.secret else value

    def render(self) -> str:
        return f"{self.field}: {self.shown(self.old)} -> {self.shown(self.new)}"

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "old": None if self.old is None else self.shown(self.old),
                "new": None if self.new is None else self.shown(self.new),
                "in_place": self.in_place, "reason": self.reason}


def summarise(changes: tuple[FieldChange, ...] | list[FieldChange], limit: int = 4) -> str:
    """``"env.FOO changed, ports changed (+2 more)"``."""
    reasons = list(dict.fromkeys(c.reason for c in changes))
    text = ", ".join(reasons[:limit])
    if len(reasons) > limit:
        text += f" (+{len(reasons) - limit} more)"
    return text


def show(value: Any) -> str | None:
    """A compact display form of a field value (tuples as lists, None kept)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, tuple | list):
        return "[" + ", ".join(str(show(v)) for v in value) + "]"
    return str(value)
