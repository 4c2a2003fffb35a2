"""Compose's variable substitution and its ``.env`` file.

Role: ``${VAR}``, ``$VAR``, ``${VAR:-default}``, ``${VAR-default}``,
``${VAR:?error}``, ``${VAR?error}`` and ``$$`` as docker-compose substitutes
them in every string value; :func:`environment` is the variables seen: the
project folder's ``.env`` under the process environment (the environment
wins, as in compose). Unlike compose, an unset variable without a default is
an error (compose warns and substitutes ""): a spec written from a guess
would be wrong silently. Neighbours: used by ``controller.compose.source``.
Pure apart from reading ``.env``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

_VAR = re.compile(r"\$(?:(\$)|\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*)|(\{[^}]*$))")
_BODY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])(.*))?$", re.DOTALL)


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """``text`` with every variable substituted; ``ValueError`` says the fix."""

    def replace(match: re.Match[str]) -> str:
        escaped, braced, bare, broken = match.groups()
        if escaped:
            return "$"
        if broken is not None:
            raise ValueError(f"invalid interpolation {match.group(0)!r}: a ${{ is not closed — "
                             "write ${NAME}, or $$ for a literal $")
        if bare is not None:
            if bare not in variables:
                raise ValueError(f"variable {bare} is not set — set it in the environment or "
                                 f"in .env, or give a default: ${{{bare}:-default}}")
            return variables[bare]
        parsed = _BODY.match(braced)
        if parsed is None:
            raise ValueError(f"invalid interpolation {match.group(0)!r} — write ${{NAME}}, "
                             "${NAME:-default}, or $$ for a literal $")
        name, op, arg = parsed.groups()
        value = variables.get(name)
        empty = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return arg if empty else str(value)
        if op in (":?", "?") and empty:
            raise ValueError(f"variable {name} is required: {arg or 'it is not set'} — set it "
                             "in the environment or in .env")
        if value is None:
            raise ValueError(f"variable {name} is not set — set it in the environment or in "
                             f".env, or give a default: ${{{name}:-default}}")
        return value

    return _VAR.sub(replace, text) if "$" in text else text


def parse_dotenv(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines as docker-compose reads ``.env`` (python-dotenv's rules:
    comments, ``export``, quotes, inline `` #`` comments after unquoted values)."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[7:].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
            if raw.strip().split("=", 1)[1].strip()[0] == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"')
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        out[key] = value
    return out


def environment(folder: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables compose files of ``folder`` see: ``.env`` under the environment."""
    found: dict[str, str] = {}
    dotenv = folder / ".env"
    if dotenv.is_file():
        found = parse_dotenv(dotenv.read_text(encoding="utf-8"))
    found.update(environ)
    return found
