"""Fuzz: random and mutated spec files give located SpecErrors, never a traceback."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specs.loader import load_dir
from specs.result import SpecSet

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "specs"
SEEDS = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.rglob("*.toml"))
         if ".hidden" not in p.parts]
KEYS = ["container", "volume", "network", "project", "web", "db", "image", "env", "ports",
        "volumes", "links", "networks", "depends_on", "restart", "healthcheck", "test",
        "interval", "resources", "memory", "replicas", "state", "command", "file", "build",
        "archive", "ref", "host", "container", "type", "source", "target", "aliases", "name",
        "defaults", "labels", "enviroment", "x y", "é"]
# DW_FUZZ_EXAMPLES=5000 for a longer hunt; the default keeps the suite fast.
SETTINGS = settings(max_examples=int(os.environ.get("DW_FUZZ_EXAMPLES", "120")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def load_text(files: dict[str, str | bytes]) -> SpecSet:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, content in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return load_dir(root, environ={"A": "1"})


def assert_located(specs: SpecSet) -> None:
    for error in specs.all_errors():
        assert error.line is not None and error.line >= 1, error
        assert error.file.endswith(".toml"), error
        assert error.message and not error.message.startswith("internal error"), error
        error.format()
        error.as_json()


scalars = st.one_of(
    st.text(max_size=10), st.integers(-2**63, 2**63 - 1), st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["8080:80", "data:/x", "5s", "256m", "busybox", "${A}", "${B", "a:b:c:d",
                     "on-failure:x", "/abs", "./rel", "CMD", "-1", ""]),
    st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2100, 1, 1)),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)), max_leaves=12)
documents = st.dictionaries(
    st.sampled_from(["container", "volume", "network", "project", "contaner", "web"]),
    st.dictionaries(st.sampled_from(KEYS), values, max_size=3), min_size=1, max_size=3)


@SETTINGS
@given(documents)
def test_random_structured_documents(doc: dict[str, object]) -> None:
    assert_located(load_text({"a.toml": tomlkit.dumps(doc)}))


@SETTINGS
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    assert_located(load_text({"a.toml": text}))


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes(data: bytes) -> None:
    assert_located(load_text({"a.toml": data}))


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        lines = text.splitlines(keepends=True) or [""]
        op = draw(st.sampled_from(["delete", "insert", "duplicate", "swap", "replace"]))
        if op == "delete" and text:
            start = draw(st.integers(0, len(text) - 1))
            text = text[:start] + text[start + draw(st.integers(1, 20)):]
        elif op == "insert":
            at = draw(st.integers(0, len(text)))
            piece = draw(st.sampled_from(['"', "[", "]", "{", "}", "=", ",", "\n", "#", "'",
                                          '"""', "[[", "x = 1\n", "${", "\\", "."]))
            text = text[:at] + piece + text[at:]
        elif op == "duplicate":
            i = draw(st.integers(0, len(lines) - 1))
            text = "".join([*lines[: i + 1], lines[i], *lines[i + 1:]])
        elif op == "swap" and len(lines) > 1:
            i = draw(st.integers(0, len(lines) - 2))
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
            text = "".join(lines)
        elif op == "replace":
            old = draw(st.sampled_from(["busybox", "80", "true", "=", "web", "db", "5s", "ro"]))
            new = draw(st.sampled_from(["", "Bad Ref", "-1", "99999", "x:y:z", "[]", "{}",
                                        '"x"', "1.5", "false"]))
            text = text.replace(old, new, 1)
    return text


@SETTINGS
@given(mutated(), mutated())
def test_mutated_fixture_files(first: str, second: str) -> None:
    assert_located(load_text({"a.toml": first, "sub/b.toml": second}))
