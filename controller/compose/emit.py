"""Tables -> TOML text that reads like a hand-written spec file.

Role: the writer of ``dockwright import``: a ``#:schema`` line, comment
lines above a table, one ``key = value`` per line with a trailing comment
where the importer made a choice, inline tables and one-line arrays (an
array of tables one entry per line), unconverted keys (``--partial``) as
comment lines. Strings are TOML basic strings (JSON's escapes are TOML's).
Small on purpose: the values the importer makes are strings, numbers,
booleans, lists and tables, nothing else; ``tomllib`` reads every file back
before anything is written (``controller.compose.importer``). Pure.
"""

from __future__ import annotations

import json
import re
from typing import Any

from controller.compose.tables import Table

SCHEMA = "#:schema https://dockwright.dev/schema/dockwright.schema.json"
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")
WIDTH = 100


def key(name: str) -> str:
    return name if _BARE.match(name) else json.dumps(name, ensure_ascii=False)


def value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if v == v and v not in (float("inf"), float("-inf")) else \
            json.dumps(str(v))
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, dict):
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{key(str(k))} = {value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(value(x) for x in v) + "]"
    return json.dumps(str(v))


def _line(name: str, v: Any, comment: str) -> list[str]:
    text = f"{key(name)} = {value(v)}"
    if isinstance(v, list) and len(text) > WIDTH and v:
        lines = [f"{key(name)} = ["] + [f"  {value(x)}," for x in v] + ["]"]
        if comment:
            lines[0] += f"  # {comment}"
        return lines
    return [f"{text}  # {comment}" if comment else text]


def table(t: Table) -> list[str]:
    lines = [f"# {n}" for n in t.notes]
    lines.append(f"[{t.kind}]" if t.kind == "project" else f"[{t.kind}.{key(t.name)}]")
    for name, v in t.values.items():
        lines += _line(name, v, t.comments.get(name, ""))
    for left in t.left:
        lines.append(f"# not converted: {left}")
    return lines


def document(tables: list[Table], header: list[str]) -> str:
    """One spec file: schema line, header comments, the tables separated by blank lines."""
    lines = [SCHEMA, *(f"# {h}" for h in header)]
    for t in tables:
        lines.append("")
        lines += table(t)
    return "\n".join(lines) + "\n"
