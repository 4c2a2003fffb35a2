"""A small JSON Schema checker for the keywords our schema uses (tests only).

Covers type, properties, additionalProperties, propertyNames, required, items,
minItems, anyOf, $ref (local), enum, const, pattern, minimum, maximum. Returns
the list of problems (empty when the instance conforms), so tests can assert
that spec files accepted by the loader are accepted by the schema editors use.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list, tuple), "string": (str,), "boolean": (bool,),
    "integer": (int,), "number": (int, float),
}


def _is(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    return isinstance(value, _TYPES[kind])


def check(schema: dict[str, Any], value: Any, root: dict[str, Any] | None = None,
          where: str = "$") -> list[str]:
    root = root or schema
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return check(target, value, root, where)
    problems: list[str] = []
    members = schema.get("anyOf", [])
    if members and all(check(member, value, root, where) for member in members):
        problems.append(f"{where}: matches no member of anyOf")
    if "type" in schema and not _is(value, schema["type"]):
        return [f"{where}: {value!r} is not of type {schema['type']}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} not in {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        problems.append(f"{where}: {value!r} != {schema['const']!r}")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        problems.append(f"{where}: {value!r} does not match {schema['pattern']}")
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and "minimum" in schema and value < schema["minimum"]:
        problems.append(f"{where}: {value} < {schema['minimum']}")
    if number and "maximum" in schema and value > schema["maximum"]:
        problems.append(f"{where}: {value} > {schema['maximum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                problems.append(f"{where}: missing {key}")
        for key, item in value.items():
            if "propertyNames" in schema:
                problems += check(schema["propertyNames"], key, root, f"{where}.{key}")
            if key in props:
                problems += check(props[key], item, root, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                problems.append(f"{where}: unknown key {key!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                problems += check(schema["additionalProperties"], item, root, f"{where}.{key}")
    if isinstance(value, list | tuple):
        if len(value) < schema.get("minItems", 0):
            problems.append(f"{where}: fewer than {schema['minItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                problems += check(schema["items"], item, root, f"{where}[{i}]")
    if isinstance(value, dt.date | dt.time):
        problems.append(f"{where}: dates are not part of the spec language")
    return problems
