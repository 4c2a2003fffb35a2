"""JSON Schema of the spec language, for editors (taplo / Even Better TOML) and CI.

Role: generate the schema from the models, then describe the *input* forms
people write: the short syntaxes that the models' before-validators accept
(``"8080:80"`` ports, ``"data:/x:ro"`` volumes, ``"5s"`` durations, ``"256m"``
sizes, string commands, ``image = "ref"``, list forms of ``networks`` and
``depends_on``) and no ``null`` (TOML has none). A committed copy lives in
``schema/dockwright.schema.json``; a test keeps it equal to :func:`schema_text`.
Neighbours: ``specs.models`` (source of truth), the ``schema`` CLI command.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import models_json_schema

from specs.models import Container, Network, Project, Volume
from specs.names import NAME_RE

_DURATION = {"anyOf": [
    {"type": "string", "pattern": r"^(\d+(\.\d+)?(ms|us|ns|h|m|s))+$", "examples": ["5s", "1m30s"]},
    {"type": "number", "minimum": 0, "description": "seconds"},
]}
_SIZE = {"anyOf": [
    {"type": "string", "pattern": r"^\d+(\.\d+)?\s*[bkmgtBKMGT]?([iI]?[bB])?$",
     "examples": ["256m", "1g"]},
    {"type": "integer", "minimum": 0, "description": "bytes"},
]}
_ARGS = {"anyOf": [
    {"type": "string", "description": "split like a shell would"},
    {"type": "array", "items": {"type": "string"}},
]}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_TEXT = {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}
_MODE = {"anyOf": [
    {"type": "string", "pattern": r"^(0o)?0?[0-7]{1,3}$", "examples": ["0440"],
     "description": "octal"},
    {"type": "integer", "minimum": 0, "maximum": 0o777, "description": "e.g. 0o440"},
]}

# (definition, property) -> schema of what may be written there.
_PROPERTIES: dict[tuple[str, str], dict[str, Any]] = {
    ("Container", "image"): {"anyOf": [
        {"type": "string", "description": "an image reference; no tag means latest",
         "examples": ["busybox:latest"]},
        {"$ref": "#/$defs/ImageSpec"}]},
    ("Container", "pull"): {"enum": ["missing", "always", "never"],
                            "description": "pull policy (same as image.pull)"},
    ("Container", "command"): _ARGS,
    ("Container", "entrypoint"): _ARGS,
    ("Container", "env"): {"type": "object", "additionalProperties": {"anyOf": [
        {"type": "string"}, {"type": "number"}, {"type": "boolean"},
        {"$ref": "#/$defs/EnvFromFile"}, {"$ref": "#/$defs/EnvFromHost"}]}},
    ("Container", "networks"): {"anyOf": [_STRINGS, {
        "type": "object", "additionalProperties": {"anyOf": [
            {"$ref": "#/$defs/NetworkAttachment"}, _STRINGS, {"const": True}]}}]},
    ("Container", "depends_on"): {"anyOf": [_STRINGS, {
        "type": "object",
        "additionalProperties": {"enum": ["started", "healthy", "completed"]}}]},
    ("Container", "stop_timeout"): _DURATION,
    ("Container", "restart"): {"$ref": "#/$defs/RestartPolicy"},
    ("Healthcheck", "test"): {"anyOf": [
        {"type": "string", "description": "run with the container's shell (CMD-SHELL)"},
        {**_STRINGS, "minItems": 1}]},
    ("Healthcheck", "interval"): _DURATION,
    ("Healthcheck", "timeout"): _DURATION,
    ("Healthcheck", "start_period"): _DURATION,
    ("Resources", "memory"): _SIZE,
    ("Resources", "memory_swap"): {"anyOf": [*_SIZE["anyOf"], {"const": -1},
                                             {"const": "unlimited"}]},
    ("Reservations", "memory"): _SIZE,
    ("Container", "shm_size"): _SIZE,
    ("Container", "sysctls"): {"type": "object", "additionalProperties": _TEXT},
    ("Logging", "options"): {"type": "object", "additionalProperties": _TEXT},
    ("Container", "expose"): {"type": "array", "items": {"anyOf": [
        {"type": "string", "pattern": r"^\d+(-\d+)?(/(tcp|udp|sctp))?$",
         "examples": ["8080", "9000/udp"]},
        {"type": "integer", "minimum": 1, "maximum": 65535}]}},
    ("Mount", "size"): _SIZE,
    ("SecretRef", "mode"): _MODE,
    ("ConfigRef", "mode"): _MODE,
    ("ProjectDefaults", "stop_timeout"): _DURATION,
    ("UpdatePolicy", "delay"): _DURATION,
    ("UpdatePolicy", "monitor"): _DURATION,
    ("ProjectDefaults", "restart"): {"$ref": "#/$defs/RestartPolicy"},
}

# Definitions that also accept a short string form.
_SHORT: dict[str, dict[str, Any]] = {
    "Port": {"anyOf": [
        {"type": "string",
         "pattern": r"^(\[[0-9a-fA-F:.]+\]:|[0-9.]+:)?((\d+(-\d+)?)?:)?\d+(-\d+)?"
                    r"(/(tcp|udp|sctp))?$",
         "examples": ["8080:80", "127.0.0.1:5353:53/udp", "8000-8010:8000-8010"]},
        {"type": "integer", "minimum": 1, "maximum": 65535}]},
    "Mount": {"type": "string", "pattern": r"^([^:]+:)?/[^:]*(:(ro|rw))?$",
              "examples": ["data:/var/lib/data", "./site:/www:ro"]},
    "VolumesFrom": {"type": "string", "pattern": r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*(:(ro|rw))?$"},
    "Link": {"type": "string",
             "pattern": r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*(:[a-zA-Z0-9][a-zA-Z0-9_.-]*)?$",
             "examples": ["db:database"]},
    "Device": {"type": "string", "pattern": r"^/[^:]*(:/[^:]*)?(:[rwm]+)?$",
               "examples": ["/dev/fuse", "/dev/sda:/dev/xvda:r"]},
    "Ulimit": {"type": "integer", "minimum": -1, "description": "soft and hard limit"},
    "RestartPolicy": {"anyOf": [
        {"type": "string", "pattern": r"^(no|always|unless-stopped|on-failure(:\d+)?)$"},
        {"const": False}]},
}


def _clean(node: Any) -> Any:
    """Drop titles, null members and null defaults; collapse one-member anyOf."""
    if isinstance(node, list):
        return [_clean(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "default" and value is None:
            continue
        if key == "anyOf":
            value = [m for m in value if m != {"type": "null"}]
            if len(value) == 1:
                out.update(_clean(value[0]))
                continue
        out[key] = _clean(value)
    return out


def build_schema() -> dict[str, Any]:
    """The JSON Schema (draft-07 compatible) of one spec file."""
    _, generated = models_json_schema(
        [(m, "validation") for m in (Container, Volume, Network, Project)],
        ref_template="#/$defs/{model}")
    defs: dict[str, Any] = _clean(generated["$defs"])
    for (name, prop), schema in _PROPERTIES.items():
        defs[name]["properties"][prop] = {
            **schema, **{k: v for k, v in defs[name]["properties"].get(prop, {}).items()
                         if k in ("default", "description")}}
    for name, short in _SHORT.items():
        body = defs[name]
        description = body.pop("description", None)
        defs[name] = {"anyOf": [*short.get("anyOf", [short]), body]}
        if description:
            defs[name]["description"] = description
    names = {"pattern": NAME_RE.pattern}

    def table_of(ref: str, what: str) -> dict[str, Any]:
        named = {**names, "minLength": 2} if what in ("container", "volume") else names
        return {"type": "object", "description": f"[{what}.NAME] tables",
                "propertyNames": named, "additionalProperties": {"$ref": f"#/$defs/{ref}"}}

    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "dockwright spec file",
        "description": "Desired state of containers, volumes and networks (one file of a spec "
                       "directory).",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "project": {"$ref": "#/$defs/Project"},
            "container": table_of("Container", "container"),
            "volume": table_of("Volume", "volume"),
            "network": table_of("Network", "network"),
        },
        "$defs": dict(sorted(defs.items())),
    }


def schema_text() -> str:
    """The schema as committed: 2-space indented JSON with a final newline."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"
