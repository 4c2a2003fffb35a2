"""The base of every spec model and the value types the models share.

Role: :class:`Model` (strict keys, frozen, schemas built on first use) and the
annotated types of the short syntaxes every model module uses (``Duration``,
``Size``). Split out of ``specs.models`` so that ``specs.hostmodels`` (the
host-level container keys) and ``specs.models`` share them without importing
each other. Neighbours: ``specs.units`` (the parsers behind the types).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

from specs import units

Duration = Annotated[float, BeforeValidator(units.parse_duration)]
Size = Annotated[int, BeforeValidator(units.parse_size)]


class Model(BaseModel):
    """Base: strict keys, immutable, no coercion of strings into numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, defer_build=True)
