"""Models back to TOML text.

Role: write resources and a ``[project]`` table as a spec file (with tomlkit)
in a form that :func:`specs.loader.load_dir` reads back to equal models: only
non-default fields, short forms where they are exact (``image = "ref"``,
``restart = "always"``), tables otherwise, numbers for durations (seconds) and
sizes (bytes), ``$`` escaped as ``$$`` so that nothing is interpolated twice.
Paths in the models are absolute, so the text loads the same from any folder.
Neighbours: ``specs.models`` (input), ``specs.loader`` (the inverse); used by
the round-trip tests (``tests/specs/test_spec_roundtrip.py``), so tomlkit is a
test dependency (the ``dev`` extra), not one of dockwright's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import tomlkit
from tomlkit.items import InlineTable, Table

from specs.models import Container, Model, Project, RestartPolicy


def _escape(value: Any) -> Any:
    """Escape ``$`` in strings, turn tuples into lists, recursively."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escape(v) for v in value]
    return value


def _restart(policy: RestartPolicy) -> Any:
    if policy.name == "on-failure" or policy.max_retries == 0:
        return str(policy)
    return {"name": policy.name, "max_retries": policy.max_retries}


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def to_data(spec: Model) -> dict[str, Any]:
    """The plain TOML-able data of one model, as few keys as reproduce it."""
    data: dict[str, Any] = spec.model_dump(mode="python", exclude_defaults=True)
    if isinstance(spec, Container):
        image = data["image"] = spec.image.model_dump(exclude_defaults=True, exclude_none=True)
        if list(image) == ["ref"]:
            data["image"] = image["ref"]
        if spec.restart is not None:
            data["restart"] = _restart(spec.restart)
        if "networks" in data:
            data["networks"] = {k: v.model_dump(exclude_defaults=True)
                                for k, v in spec.networks.items()}
    if isinstance(spec, Project) and spec.defaults.restart is not None:
        data.setdefault("defaults", {})["restart"] = _restart(spec.defaults.restart)
    out: dict[str, Any] = _drop_none(_escape(data))
    return out


def _inline(value: Any) -> Any:
    """Nested tables as inline tables, so one resource stays one readable block."""
    if isinstance(value, dict):
        table: InlineTable = tomlkit.inline_table()
        for key, item in value.items():
            table[key] = _inline(item)
        return table
    if isinstance(value, list):
        array = tomlkit.array()
        array.extend(_inline(v) for v in value)
        return array
    return value


def _table(data: dict[str, Any]) -> Table:
    table = tomlkit.table()
    for key, value in data.items():
        table[key] = _inline(value)
    return table


def dumps(resources: Iterable[tuple[str, str, Model]], project: Project | None = None) -> str:
    """``(kind, name, model)`` triples (and a project) as the text of one spec file."""
    doc = tomlkit.document()
    if project is not None:
        doc["project"] = _table(to_data(project))
    groups: dict[str, Table] = {}
    for kind, name, spec in resources:
        if kind not in groups:
            groups[kind] = tomlkit.table(is_super_table=True)
            doc[kind] = groups[kind]
        groups[kind][name] = _table(to_data(spec))
    return tomlkit.dumps(doc)
