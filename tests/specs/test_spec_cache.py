"""The per-file cache of load results (``specs.cache``): a hit gives the same result,
and everything the result depends on invalidates it.

Each test points ``DOCKWRIGHT_CACHE_DIR`` at its own folder and proves a hit by
making parsing fail (``specs.loader._parse`` replaced): a hit never parses.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from specs import loader
from specs.loader import load_dir
from specs.models import Container
from specs.result import SpecSet

SPEC = """\
[project]
name = "shop"

[container.web]
image = "nginx:${TAG:-1.25}"
env_file = ["conf/web.env"]
command = ["sh", "-c", "echo ${GREETING}"]
ports = ["8080:80"]
"""
BAD = "[container.bad]\nimage = 42\n"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("DOCKWRIGHT_CACHE_DIR", str(folder))
    monkeypatch.delenv("DOCKWRIGHT_NO_CACHE", raising=False)
    return folder / "specs"


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    root = tmp_path / "specs"
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "web.env").write_text("A=1\n")
    (root / "app.toml").write_text(SPEC)
    (root / "bad.toml").write_text(BAD)
    return root


class NoParse:
    """Replaces ``loader._parse`` while active: any parse (a miss) fails the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def __enter__(self) -> None:
        def fail(*_: object) -> None:
            raise AssertionError("parsed: the cache was not used")

        self.monkeypatch.setattr(loader, "_parse", fail)

    def __exit__(self, *_: object) -> None:
        self.monkeypatch.undo()


@pytest.fixture
def no_parse(monkeypatch: pytest.MonkeyPatch) -> Iterator[NoParse]:
    yield NoParse(monkeypatch)


def _web(specs: SpecSet) -> Container:
    spec = specs.resources()[0].spec
    assert isinstance(spec, Container)
    return spec


def _same(a: SpecSet, b: SpecSet) -> None:
    assert a.files == b.files
    assert a.project == b.project
    assert a.errors == b.errors
    assert a.all_errors() == b.all_errors()
    assert a.resources() == b.resources()


ENV = {"GREETING": "hello"}


def test_a_hit_gives_an_equal_result(cache: Path, spec_dir: Path, no_parse: NoParse) -> None:
    first = load_dir(spec_dir, ENV)
    assert [p.name for p in cache.iterdir()], "nothing was cached"
    assert _web(first).env_file == (str(spec_dir / "conf" / "web.env"),)
    assert [e.file for e in first.all_errors()] == ["bad.toml"]  # errors are cached too
    with no_parse:
        second = load_dir(spec_dir, ENV)
    _same(first, second)


def test_a_changed_file_is_parsed_again(cache: Path, spec_dir: Path) -> None:
    load_dir(spec_dir, ENV)
    (spec_dir / "app.toml").write_text(SPEC.replace("8080:80", "9090:80"))
    ports = _web(load_dir(spec_dir, ENV)).ports
    assert [p.host for p in ports] == [9090]


def test_a_changed_variable_is_parsed_again(cache: Path, spec_dir: Path,
                                             no_parse: NoParse) -> None:
    first = load_dir(spec_dir, ENV)
    assert _web(first).image.ref == "nginx:1.25"
    second = load_dir(spec_dir, {**ENV, "TAG": "1.26"})
    assert _web(second).image.ref == "nginx:1.26"
    with no_parse:  # variables the file does not use do not matter
        _same(second, load_dir(spec_dir, {**ENV, "TAG": "1.26", "OTHER": "x"}))
    third = load_dir(spec_dir, {"TAG": "1.26"})  # GREETING unset: now an error
    assert any("GREETING" in e.message for e in third.all_errors())


def test_a_changed_dotenv_is_parsed_again(cache: Path, spec_dir: Path) -> None:
    (spec_dir / ".env").write_text("TAG=2.0\nGREETING=hi\n")
    assert _web(load_dir(spec_dir, {})).image.ref == "nginx:2.0"
    (spec_dir / ".env").write_text("TAG=3.0\nGREETING=hi\n")
    assert _web(load_dir(spec_dir, {})).image.ref == "nginx:3.0"


def test_a_corrupt_entry_is_ignored(cache: Path, spec_dir: Path) -> None:
    first = load_dir(spec_dir, ENV)
    for entry in cache.iterdir():
        entry.write_bytes(b"\x80\x05not a pickle")
    _same(first, load_dir(spec_dir, ENV))
    for entry in cache.iterdir():
        entry.write_bytes(b"")
    _same(first, load_dir(spec_dir, ENV))


def test_resolved_paths_are_checked_again(cache: Path, tmp_path: Path) -> None:
    """A spec folder reached through a symlink that now points elsewhere."""
    for name in ("a", "b"):
        (tmp_path / name / "conf").mkdir(parents=True)
        (tmp_path / name / "conf" / "web.env").write_text("A=1\n")
        (tmp_path / name / "app.toml").write_text(SPEC)
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "a")
    first = _web(load_dir(link, ENV)).env_file
    link.unlink()
    link.symlink_to(tmp_path / "b")
    second = _web(load_dir(link, ENV)).env_file
    assert first == (str(tmp_path / "a" / "conf" / "web.env"),)
    assert second == (str(tmp_path / "b" / "conf" / "web.env"),)


def test_cross_file_checks_run_on_every_load(cache: Path, tmp_path: Path,
                                             no_parse: NoParse) -> None:
    root = tmp_path / "x"
    root.mkdir()
    (root / "a.toml").write_text('[container.aa]\nimage = "busybox"\nnetworks = ["back"]\n')
    (root / "b.toml").write_text('[network.back]\n')
    assert load_dir(root, {}).ok
    (root / "b.toml").unlink()
    with no_parse:  # a.toml comes from the cache; its reference is checked again
        again = load_dir(root, {})
    assert not again.ok
    assert [e.file for e in again.all_errors()] == ["a.toml"]


def test_disabled_cache_writes_nothing(cache: Path, spec_dir: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKWRIGHT_NO_CACHE", "1")
    load_dir(spec_dir, ENV)
    assert not cache.exists() or not os.listdir(cache)
