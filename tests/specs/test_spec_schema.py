"""The JSON Schema describes the input forms and matches the models."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from specs.models import KINDS, Container
from specs.schema import build_schema
from tests.specs.schema_check import check

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_is_valid_json_and_current() -> None:
    text = (ROOT / "schema" / "dockwright.schema.json").read_text(encoding="utf-8")
    assert json.loads(text) == build_schema()


def test_schema_covers_every_field_of_every_model() -> None:
    defs = build_schema()["$defs"]
    for model in (*KINDS.values(),):
        props = defs[model.__name__]["properties"]
        assert set(model.model_fields) <= set(props), model.__name__
    assert "pull" in defs["Container"]["properties"]


def _accepts_string(node: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    if "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[1]]
    members = node.get("anyOf", [node])
    return [m for m in members if m.get("type") == "string"]


def test_short_syntaxes_are_described_as_strings() -> None:
    schema = build_schema()
    defs = schema["$defs"]
    for name, sample in (("Port", "127.0.0.1:8080:80/udp"), ("Mount", "./site:/www:ro"),
                         ("Link", "db:database"), ("VolumesFrom", "data:ro"),
                         ("RestartPolicy", "on-failure:3")):
        strings = _accepts_string({"$ref": f"#/$defs/{name}"}, defs)
        assert strings and re.match(strings[0]["pattern"], sample), name
    container = defs["Container"]["properties"]
    assert _accepts_string(container["image"], defs)
    assert _accepts_string(container["command"], defs)
    duration = _accepts_string(container["stop_timeout"], defs)[0]["pattern"]
    assert re.match(duration, "1m30s") and not re.match(duration, "5q")
    memory = _accepts_string(defs["Resources"]["properties"]["memory"], defs)[0]["pattern"]
    assert re.match(memory, "256m")
    assert "null" not in json.dumps(schema)


def test_resource_names_follow_the_model_rule() -> None:
    schema = build_schema()
    pattern = schema["properties"]["container"]["propertyNames"]["pattern"]
    assert re.match(pattern, "web-1") and not re.match(pattern, "-web")
    assert schema["additionalProperties"] is False
    assert Container.__name__ in schema["$defs"]


FIXTURES = ROOT / "tests" / "fixtures" / "specs"


def _spec_files() -> list[Path]:
    files = [p for p in (FIXTURES / "valid").rglob("*.toml") if ".hidden" not in p.parts]
    return sorted([*files, *(ROOT / "examples").rglob("*.toml")])


def test_files_the_loader_accepts_conform_to_the_schema() -> None:
    schema = build_schema()
    files = _spec_files()
    assert len(files) >= 4
    for path in files:
        assert check(schema, tomllib.loads(path.read_text(encoding="utf-8"))) == [], path


def test_schema_rejects_unknown_keys_and_bad_short_forms() -> None:
    schema = build_schema()
    doc = tomllib.loads((FIXTURES / "invalid" / "unknown-keys" / "web.toml").read_text())
    problems = check(schema, doc)
    assert any("unknown key 'enviroment'" in p for p in problems)
    assert any("unknown key 'contaner'" in p for p in problems)
    assert check(schema, {"container": {"w": {"image": "x", "ports": ["80:80:80:80"]}}})
    assert check(schema, {"container": {"w": {"image": "x", "stop_timeout": "5q"}}})
