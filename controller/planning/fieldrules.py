"""Field rules: the comparators a rule table chooses from, and the loop that applies one.

Role: a rule table maps each field of a desired object to a :class:`Row`:
which comparator (:class:`Kind`) decides whether the live value differs,
whether a difference is made in place or needs a new object
(:class:`Update`), and the row's own parameters (how a value is shown, which
entries of a mapping are skipped or secret, where the live value comes from,
when an in-place difference needs a recreate anyway, the default an unset
field has, the step a runtime rounds a number to). :func:`diff` walks a
table over a :class:`Sides` (desired with its defaults filled in, live, and
the desired object as written) and returns ``FieldChange`` values; it knows
no field by name and reads fields only with ``getattr``, so a container table
(``controller.planning.compare``) and a Swarm service table use the same
comparators: the caller fills in what the runtime fills in (image defaults,
server defaults) before comparing. Neighbours: ``controller.planning.diff``
(``FieldChange``, ``show``); used by ``controller.planning.compare``. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from controller.planning.diff import FieldChange, show


class Kind(StrEnum):
    """How a field is compared."""

    STRICT = "strict"  # equal, None included
    IF_SET = "if-set"  # compared only when the spec sets it
    SET = "set"  # a collection whose order does not matter
    KEYS = "keys"  # a mapping compared entry by entry: one change per key
    IMAGE_DEFAULT = "image-default"  # unset in the spec means the image's value
    SERVER_DEFAULT = "server-default"  # unset (either side) means ``Row.default``
    QUANTITY = "quantity"  # a number with a unit, as precise as the runtime keeps it
    NESTED = "nested"  # an object compared field by field with its own table
    IGNORE = "ignore"


class Update(StrEnum):
    """What a difference in a field needs."""

    IN_PLACE = "in-place"
    RECREATE = "recreate"


def _same(value: Any) -> Any:
    return value


def _dict(value: Any) -> Mapping[str, Any]:
    return dict(value)


@dataclass(frozen=True)
class Sides:
    """The two objects compared, and what the comparators may need besides.

    ``want`` is the desired object with the runtime's defaults filled in (what
    the runtime will report once it is created), ``spec`` the desired object as
    written (so "unset" can be told from "set to the default"), ``have`` the
    live object as the runtime reports it. ``defaults`` is what the defaults
    came from (an image, a server's defaults); ``None`` means unknown: fields
    the spec leaves to it are then not compared. ``source`` is what ``have``
    was read from, for :attr:`Row.live`. ``secrets``: keys whose values are
    never shown.
    """

    want: Any
    have: Any
    spec: Any
    defaults: Any = None
    source: Any = None
    secrets: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Row:
    """The rule of one field. Only the parameters of its ``kind`` are read."""

    kind: Kind
    update: Update = Update.RECREATE
    # the canonical, displayed form of a value (SET: of one item; KEYS: of one entry)
    display: Callable[[Any], Any] = _same
    # the live value, when it is not ``getattr(sides.have, field)``
    live: Callable[[Sides], Any] | None = None
    # (old, new): an in-place field's difference that needs a recreate all the same
    recreate_when: Callable[[Any, Any], bool] | None = None
    # KEYS: the value as a mapping; entries whose key starts with ``skip_prefix`` are
    # not compared; ``masked``: entries whose key is in ``Sides.secrets`` are secret;
    # ``member``: a changed entry present on both sides is named ``field.key.member``;
    # ``from_defaults``: the defaults add entries (image env): with the defaults unknown,
    # live entries the spec does not name are not compared
    entries: Callable[[Any], Mapping[str, Any]] = _dict
    skip_prefix: str | tuple[str, ...] = ""
    masked: bool = False
    member: str = ""
    from_defaults: bool = False
    # SERVER_DEFAULT, QUANTITY: what an unset (None) value means; QUANTITY with no
    # default: an unset spec value is not compared
    default: Any = None
    # QUANTITY: the runtime keeps multiples of ``step``, rounding up (0: exact)
    step: float = 0.0
    unit: str = ""
    # NESTED: the table of the object's fields
    rows: Mapping[str, Row] = field(default_factory=dict)


def _change(name: str, row: Row, old: Any, new: Any, shown_old: Any,
            shown_new: Any) -> FieldChange:
    in_place = row.update is Update.IN_PLACE and not (
        row.recreate_when is not None and row.recreate_when(old, new))
    return FieldChange(name, show(shown_old), show(shown_new), in_place)


def _strict(name: str, row: Row, new: Any, old: Any, sides: Sides) -> list[FieldChange]:
    shown_new, shown_old = row.display(new), row.display(old)
    return [] if shown_new == shown_old else [_change(name, row, old, new, shown_old, shown_new)]


def _if_set(name: str, row: Row, new: Any, old: Any, sides: Sides) -> list[FieldChange]:
    return [] if new is None else _strict(name, row, new, old, sides)


def _set(name: str, row: Row, new: Any, old: Any, sides: Sides) -> list[FieldChange]:
    shown_new = sorted((row.display(v) for v in new or ()), key=repr)
    shown_old = sorted((row.display(v) for v in old or ()), key=repr)
    return [] if shown_new == shown_old else [_change(name, row, old, new, shown_old, shown_new)]


def _keys(name: str, row: Row, new: Any, old: Any, sides: Sides) -> list[FieldChange]:
    def entries(value: Any) -> dict[str, Any]:
        found = row.entries(value) if value is not None else {}
        if row.skip_prefix:
            found = {k: v for k, v in found.items() if not k.startswith(row.skip_prefix)}
        if row.display is _same:
            return dict(found)
        return {k: row.display(v) for k, v in found.items()}

    want, have = entries(new), entries(old)
    if row.from_defaults and sides.defaults is None:
        have = {k: v for k, v in have.items() if k in want}
    out = []
    for key in sorted(set(want) | set(have)):
        if key in want and key in have and want[key] == have[key]:
            continue
        path = f"{name}.{key}"
        if row.member and key in want and key in have:
            path += f".{row.member}"
        change = _change(path, row, have.get(key), want.get(key), have.get(key), want.get(key))
        if row.masked and key in sides.secrets:
            change = replace(change, secret=True)
        out.append(change)
    return out


def _image_default(name: str, row: Row, new: Any, old: Any, sides: Sides) -> list[FieldChange]:
    if sides.defaults is None and getattr(sides.spec, name.rpartition(".")[2], None) is None:
        return []  # left to an image that is not known: nothing to compare with
    return _strict(name, row, new, old, sides)


def _server_default(name: str, row: Row, new: Any, old: Any, sides: Sides) -> list[FieldChange]:
    return _strict(name, row, row.default if new is None else new,
                   row.default if old is None else old, sides)


def _quantity(name: str, row: Row, new: Any, old: Any, sides: Sides) -> list[FieldChange]:
    def kept(value: Any) -> Any:
        value = row.default if value is None else value
        if value is None or not row.step:
            return value
        return math.ceil(round(value / row.step, 9)) * row.step

    if new is None and row.default is None:
        return []
    want, have = kept(new), kept(old)
    if want == have:
        return []
    return [_change(name, row, old, new, None if have is None else f"{have:g}{row.unit}",
                    None if want is None else f"{want:g}{row.unit}")]


def _nested(name: str, row: Row, new: Any, old: Any, sides: Sides) -> list[FieldChange]:
    if new is None or old is None:
        return _strict(name, row, new, old, sides)
    inner = Sides(want=new, have=old, spec=getattr(sides.spec, name.rpartition(".")[2], None),
                  defaults=sides.defaults, source=sides.source, secrets=sides.secrets)
    return diff(row.rows, inner, prefix=f"{name}.")


def _ignore(name: str, row: Row, new: Any, old: Any, sides: Sides) -> list[FieldChange]:
    return []


Comparator = Callable[[str, Row, Any, Any, Sides], list[FieldChange]]
COMPARATORS: dict[Kind, Comparator] = {
    Kind.STRICT: _strict,
    Kind.IF_SET: _if_set,
    Kind.SET: _set,
    Kind.KEYS: _keys,
    Kind.IMAGE_DEFAULT: _image_default,
    Kind.SERVER_DEFAULT: _server_default,
    Kind.QUANTITY: _quantity,
    Kind.NESTED: _nested,
    Kind.IGNORE: _ignore,
}


def diff(table: Mapping[str, Row], sides: Sides, prefix: str = "") -> list[FieldChange]:
    """Changes from ``sides.have`` to ``sides.want``, field by field in table order."""
    out: list[FieldChange] = []
    for name, row in table.items():
        if row.kind is Kind.IGNORE:
            continue
        new = getattr(sides.want, name)
        old = row.live(sides) if row.live is not None else getattr(sides.have, name)
        if new == old:  # every comparator finds equal values equal: the common case, fast
            continue
        out += COMPARATORS[row.kind](prefix + name, row, new, old, sides)
    return out


def in_place(table: Mapping[str, Row], path: str) -> bool:
    """Whether a change named ``path`` (``field`` or ``field.key...``) is made in place."""
    name, _, rest = path.partition(".")
    row = table.get(name)
    if row is not None and row.kind is Kind.NESTED and rest:
        return in_place(row.rows, rest)
    return row is not None and row.update is Update.IN_PLACE
