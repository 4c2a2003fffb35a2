"""Spec models of the keys only a Swarm cluster gives a meaning to.

Role: ``placement = { constraints, preferences, max_per_node }`` and
``update`` / ``rollback = { parallelism, delay, order, failure_action, monitor,
max_failure_ratio }`` of a ``[container.NAME]`` table, validated and
normalised (durations in seconds, ``spread=`` preferences). ``specs.models``
uses them as fields of ``Container``; ``specs.runtimes`` refuses them on the
runtimes without a scheduler. ``update.order`` is the key ``update_order``
(the one key both mean on every runtime). Runtime-neutral in form: nothing
here imports ``runtime``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from specs import units

Duration = Annotated[float, BeforeValidator(units.parse_duration)]
_CONSTRAINT = re.compile(r"^\s*[A-Za-z0-9_.\-]+\s*(==|!=)\s*\S.*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, defer_build=True)


class Placement(_Model):
    """Where Swarm may place the service's tasks."""

    constraints: tuple[str, ...] = ()  # "node.role == worker", "node.labels.zone != b"
    preferences: tuple[str, ...] = ()  # "spread=node.labels.zone"
    max_per_node: int | None = Field(default=None, ge=1)

    @field_validator("constraints")
    @classmethod
    def _constraints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not _CONSTRAINT.match(item):
                raise ValueError(f"invalid placement constraint {item!r}: write "
                                 "\"node.role == worker\" or \"node.labels.zone != b\"")
        return value

    @field_validator("preferences")
    @classmethod
    def _preferences(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for item in value:
            strategy, sep, label = item.partition("=")
            if not sep:  # "node.labels.zone" alone means spread over it
                strategy, label = "spread", item
            if strategy.strip() != "spread" or not label.strip():
                raise ValueError(f"invalid placement preference {item!r}: write "
                                 "\"spread=node.labels.zone\"")
            out.append(f"spread={label.strip()}")
        return tuple(out)


class UpdatePolicy(_Model):
    """How Swarm rolls a change out (``update``) or back (``rollback``)."""

    parallelism: int | None = Field(default=None, ge=0)  # 0: all at once
    delay: Duration | None = None
    order: Literal["stop-first", "start-first"] | None = None
    failure_action: Literal["pause", "continue", "rollback"] | None = None
    monitor: Duration | None = None
    max_failure_ratio: float | None = Field(default=None, ge=0, le=1)


SwarmMode = Literal["replicated", "global"]
EndpointMode = Literal["vip", "dnsrr"]
PortMode = Literal["ingress", "host"]
