"""The comparators of ``controller.planning.fieldrules``, one table of cases per rule kind.

The objects compared are small dataclasses of this file, not ``ContainerConfig``:
the machinery reads fields only through the rows of a table, so a Swarm service
spec can be compared with it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from controller.planning.diff import FieldChange
from controller.planning.fieldrules import (
    COMPARATORS,
    Kind,
    Row,
    Sides,
    Update,
    diff,
    in_place,
)


@dataclass(frozen=True)
class Inner:
    replicas: int | None = None
    mode: str = "x"


@dataclass(frozen=True)
class Thing:
    """Stands for any object a table describes (a container config, a service spec)."""

    value: Any = None


Found = list[tuple[str, str | None, str | None, bool]]


def changes(row: Row, new: Any, old: Any, *, spec: Any = "set", defaults: Any = "known",
            secrets: frozenset[str] = frozenset()) -> Found:
    """What one row says about ``old`` -> ``new`` (spec value "set" unless given)."""
    sides = Sides(want=Thing(new), have=Thing(old), spec=Thing(new if spec == "set" else spec),
                  defaults=defaults, secrets=secrets)
    return [(c.field, c.old, c.new, c.in_place) for c in diff({"value": row}, sides)]


def test_every_kind_has_a_comparator() -> None:
    assert set(COMPARATORS) == set(Kind)


STRICT = [  # (new, old, expected changes)
    (1, 1, []),
    (None, None, []),
    (1, 2, [("value", "2", "1", False)]),
    (None, "a", [("value", "a", None, False)]),
    ((1, 2), (2, 1), [("value", "[2, 1]", "[1, 2]", False)]),  # order counts
]


@pytest.mark.parametrize(("new", "old", "want"), STRICT)
def test_strict(new: Any, old: Any, want: list[Any]) -> None:
    assert changes(Row(Kind.STRICT), new, old) == want


def test_strict_compares_the_displayed_form() -> None:
    row = Row(Kind.STRICT, display=lambda v: v or None)  # "" and None are one thing
    assert changes(row, "", None) == []
    assert changes(row, "a", "") == [("value", None, "a", False)]


IF_SET = [
    (None, "anything", []),  # unset in the spec: the runtime's choice stands
    ("h", "h", []),
    ("h", "other", [("value", "other", "h", False)]),
    ("h", None, [("value", None, "h", False)]),
]


@pytest.mark.parametrize(("new", "old", "want"), IF_SET)
def test_if_set(new: Any, old: Any, want: list[Any]) -> None:
    assert changes(Row(Kind.IF_SET), new, old) == want


SET = [
    (("a", "b"), ("b", "a"), []),  # order does not count
    ((), None, []),
    (("a",), ("a", "b"), [("value", "[a, b]", "[a]", False)]),
    (("a", "a"), ("a",), [("value", "[a]", "[a, a]", False)]),  # a repeated item counts
]


@pytest.mark.parametrize(("new", "old", "want"), SET)
def test_set(new: Any, old: Any, want: list[Any]) -> None:
    assert changes(Row(Kind.SET), new, old) == want


def test_set_compares_items_in_their_displayed_form() -> None:
    row = Row(Kind.SET, display=str.lower)
    assert changes(row, ("A", "b"), ("B", "a")) == []


KEYS = [
    ((("A", "1"), ("B", "2")), (("B", "2"), ("A", "1")), []),
    ((("A", "1"),), (("A", "2"), ("OLD", "x")),
     [("value.A", "2", "1", False), ("value.OLD", "x", None, False)]),
    ((("NEW", ""),), (), [("value.NEW", None, "", False)]),  # an empty value is a value
]


@pytest.mark.parametrize(("new", "old", "want"), KEYS)
def test_keys(new: Any, old: Any, want: list[Any]) -> None:
    assert changes(Row(Kind.KEYS), new, old) == want


def test_keys_skip_a_prefix_on_both_sides() -> None:
    row = Row(Kind.KEYS, skip_prefix="own.")
    assert changes(row, (("own.hash", "1"), ("a", "1")), (("own.hash", "2"), ("a", "1"))) == []


def test_keys_mask_the_secret_ones_only() -> None:
    sides = Sides(want=Thing((("PW", "new"), ("A", "1"))), have=Thing((("PW", "old"),)),
                  spec=Thing(None), secrets=frozenset({"PW"}))
    found = {c.field: c for c in diff({"value": Row(Kind.KEYS, masked=True)}, sides)}
    assert found["value.PW"].secret and found["value.PW"].render() == "value.PW: *** -> ***"
    assert not found["value.A"].secret
    plain = {c.field: c for c in diff({"value": Row(Kind.KEYS)}, sides)}
    assert not plain["value.PW"].secret  # masked only where the row says so


def test_keys_from_defaults_compare_only_named_entries_while_the_defaults_are_unknown() -> None:
    row = Row(Kind.KEYS, from_defaults=True)
    new, old = (("A", "1"),), (("A", "2"), ("PATH", "/bin"))
    assert changes(row, new, old, defaults=None) == [("value.A", "2", "1", False)]
    assert changes(row, new, old) == [("value.A", "2", "1", False),
                                      ("value.PATH", "/bin", None, False)]


def test_keys_with_a_member_name_membership_and_member_changes_apart() -> None:
    row = Row(Kind.KEYS, Update.IN_PLACE, entries=lambda v: {k: sorted(a) for k, a in v},
              member="aliases")
    new = (("front", ("web", "www")), ("back", ()))
    old = (("front", ("web",)), ("gone", ("x",)))
    assert changes(row, new, old) == [
        ("value.back", None, "[]", True),  # joined, no alias: attached is not None
        ("value.front.aliases", "[web]", "[web, www]", True),
        ("value.gone", "[x]", None, True),
    ]


IMAGE_DEFAULT = [  # (spec value, value with defaults, live, image known, changes)
    (None, "/srv", "/srv", True, []),  # the image's value, filled in
    (None, "/srv", "/other", True, [("value", "/other", "/srv", False)]),
    (None, None, "/srv", False, []),  # image unknown: an unset value is not compared
    ("/app", "/app", "/srv", False, [("value", "/srv", "/app", False)]),  # set: compared
]


@pytest.mark.parametrize(("spec", "new", "old", "known", "want"), IMAGE_DEFAULT)
def test_image_default(spec: Any, new: Any, old: Any, known: bool, want: list[Any]) -> None:
    assert changes(Row(Kind.IMAGE_DEFAULT), new, old, spec=spec,
                   defaults="image" if known else None) == want


SERVER_DEFAULT = [
    (None, None, []),
    (None, 1, []),  # unset means the default
    (1, None, []),
    (None, 3, [("value", "3", "1", False)]),
    (2, None, [("value", "1", "2", False)]),
]


@pytest.mark.parametrize(("new", "old", "want"), SERVER_DEFAULT)
def test_server_default(new: Any, old: Any, want: list[Any]) -> None:
    assert changes(Row(Kind.SERVER_DEFAULT, default=1), new, old) == want


QUANTITY = [  # (row, new, old, changes)
    (Row(Kind.QUANTITY, unit="s", step=1.0), 2.5, 3.0, []),  # the runtime keeps whole seconds
    (Row(Kind.QUANTITY, unit="s", step=1.0), 3.0, 3.0000000001, []),  # float noise
    (Row(Kind.QUANTITY, unit="s", step=1.0), 2.0, 3.0, [("value", "3s", "2s", False)]),
    (Row(Kind.QUANTITY, unit="s"), 2.5, 3.0, [("value", "3s", "2.5s", False)]),  # exact
    (Row(Kind.QUANTITY, unit="s"), None, 3.0, []),  # no default: unset is not compared
    (Row(Kind.QUANTITY, unit="s", default=10.0), None, 10.0, []),
    (Row(Kind.QUANTITY, unit="s", default=10.0), None, 3.0, [("value", "3s", "10s", False)]),
    (Row(Kind.QUANTITY, unit="B", step=1024), 1000, 1024, []),
]


@pytest.mark.parametrize(("row", "new", "old", "want"), QUANTITY)
def test_quantity(row: Row, new: Any, old: Any, want: list[Any]) -> None:
    assert changes(row, new, old) == want


def test_nested_compares_with_its_own_table_and_names_paths() -> None:
    rows = {"replicas": Row(Kind.SERVER_DEFAULT, Update.IN_PLACE, default=1),
            "mode": Row(Kind.STRICT)}
    row = Row(Kind.NESTED, rows=rows)
    assert changes(row, Inner(None, "x"), Inner(1, "x")) == []
    assert changes(row, Inner(3, "y"), Inner(1, "x")) == [
        ("value.replicas", "1", "3", True), ("value.mode", "x", "y", False)]
    assert changes(row, None, Inner()) == [("value", "Inner(replicas=None, mode='x')", None,
                                            False)]
    table = {"value": row}
    assert in_place(table, "value.replicas") and not in_place(table, "value.mode")


def test_ignore_never_differs() -> None:
    assert changes(Row(Kind.IGNORE), 1, 2) == []


def test_update_kind_and_recreate_when() -> None:
    row = Row(Kind.STRICT, Update.IN_PLACE, recreate_when=lambda old, new: new is None)
    assert changes(row, 2, 1) == [("value", "1", "2", True)]
    assert changes(row, None, 1) == [("value", "1", None, False)]  # lifted: recreate


def test_live_value_can_come_from_elsewhere() -> None:
    row = Row(Kind.STRICT, live=lambda sides: sides.source["value"])
    sides = Sides(want=Thing(1), have=Thing(2), spec=Thing(1), source={"value": 1})
    assert diff({"value": row}, sides) == []


def test_in_place_names_fields_and_their_entries() -> None:
    table = {"a": Row(Kind.STRICT, Update.IN_PLACE), "b": Row(Kind.KEYS)}
    assert in_place(table, "a") and in_place(table, "a.x.y")
    assert not in_place(table, "b.K") and not in_place(table, "unknown")


def test_changes_are_field_changes() -> None:
    sides = Sides(want=Thing(1), have=Thing(2), spec=Thing(1))
    assert diff({"value": Row(Kind.STRICT)}, sides) == [FieldChange("value", "2", "1")]



@dataclass(frozen=True)
class Task:
    command: tuple[str, ...] | None = None
    env: tuple[tuple[str, str], ...] = ()
    stop_grace: float | None = None


@dataclass(frozen=True)
class Service:
    """Shaped like a Swarm ServiceSpec: nested, with fields the manager fills in."""

    replicas: int | None = None
    parallelism: int | None = None
    task: Task = Task()


SERVICE = {
    "replicas": Row(Kind.SERVER_DEFAULT, Update.IN_PLACE, default=1),
    "parallelism": Row(Kind.SERVER_DEFAULT, Update.IN_PLACE, default=1),
    "task": Row(Kind.NESTED, rows={
        "command": Row(Kind.IMAGE_DEFAULT),
        "env": Row(Kind.KEYS, masked=True),
        "stop_grace": Row(Kind.QUANTITY, unit="s", default=10.0),
    }),
}


def test_a_service_spec_table_uses_the_same_comparators() -> None:
    spec = Service(task=Task(env=(("PW", "x"),)))
    filled = Service(replicas=1, parallelism=1, task=Task(("serve",), (("PW", "x"),)))
    live = Service(replicas=1, parallelism=None, task=Task(("serve",), (("PW", "x"),), 10.0))
    sides = Sides(want=filled, have=live, spec=spec, defaults="image", secrets=frozenset({"PW"}))
    assert diff(SERVICE, sides) == []
    moved = Service(replicas=3, parallelism=1, task=Task(("serve",), (("PW", "y"),), 10.0))
    found = diff(SERVICE, Sides(want=filled, have=moved, spec=spec, defaults="image",
                                secrets=frozenset({"PW"})))
    assert [(c.field, c.in_place, c.secret) for c in found] == [
        ("replicas", True, False), ("task.env.PW", False, True)]
    assert in_place(SERVICE, "replicas") and not in_place(SERVICE, "task.env.PW")
