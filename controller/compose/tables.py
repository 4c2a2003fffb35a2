"""What the importer produces before it is written: tables, comments, problems.

Role: the value types shared by ``controller.compose.convert`` (fills them),
``controller.compose.storage`` and ``controller.compose.emit`` (writes them),
and the key-support question (:func:`supported`): a spec key the running
dockwright's models do not have is reported as unconvertible rather than
written into a file the loader would refuse. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any


@dataclass
class Table:
    """One TOML table to write: ``[KIND.NAME]`` (or ``[project]``), its keys in order."""

    kind: str
    name: str
    values: dict[str, Any] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)  # key -> comment after it
    notes: list[str] = field(default_factory=list)  # comment lines above the table
    left: list[str] = field(default_factory=list)  # keys not converted (--partial)

    def set(self, key: str, value: Any, comment: str = "") -> None:
        self.values[key] = value
        if comment:
            self.comments[key] = comment


@dataclass(frozen=True)
class Problem:
    """A compose key that cannot be converted: located, with what to do instead."""

    where: str  # file:line
    key: str  # services.web.KEY
    message: str
    fix: str

    def format(self) -> str:
        head = f"{self.where}: {self.key}: " if self.key else f"{self.where}: "
        return f"{head}{self.message} — {self.fix}" if self.fix else head + self.message


@cache
def _fields(model: str) -> frozenset[str]:
    from specs import models

    found = getattr(models, model, None)
    return frozenset(getattr(found, "model_fields", {}) or ())


def supported(path: str) -> bool:
    """Whether the spec language of this dockwright has ``path`` (``init``,
    ``resources.cpu_shares``, ``healthcheck.disable``)."""
    head, _, rest = path.partition(".")
    if not rest:
        return head in _fields("Container")
    owner = {"resources": "Resources", "healthcheck": "Healthcheck", "project": "Project",
             "volume": "Volume", "network": "Network"}.get(head)
    return owner is not None and rest.split(".")[0] in _fields(owner)
