"""Recipe snapshots (``controller.desired.snapshot``, through ``controller.desired.specload``): a
hit
gives exactly the desired state of a full load, everything a full load depends on
invalidates it, and no secret reaches the disk.

Each test points ``DOCKWRIGHT_CACHE_DIR`` at its own folder. A hit is proven by
making the loader fail (``specs.loader.load_dir`` replaced): a hit never loads.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.desired import snapshot
from controller.desired.specload import recipe_of
from controller.desired.state import realise
from specs import loader

ROOT = Path(__file__).resolve().parent.parent.parent
SECRET = "s3cret-value-7f1c9"
HOST_VALUE = "host-value-4b2e8"
SPEC = """\
[project]
name = "shop"

[volume.data]
labels = { tier = "db" }

[container.db]
image = "busybox:${TAG:-1.36}"
env_file = ["conf/db.env"]
env = { PASSWORD = { file = "secrets/pw" }, TOKEN = { env = "DW_TEST_TOKEN" }, MODE = "x" }
volumes = ["data:/data"]
healthcheck = { test = ["CMD", "true"], interval = "2s" }

[container.web]
image = { build = "./ctx" }
links = ["db:database"]
depends_on = { db = "healthy" }
replicas = 2
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("DOCKWRIGHT_CACHE_DIR", str(folder))
    monkeypatch.delenv("DOCKWRIGHT_NO_CACHE", raising=False)
    monkeypatch.setenv("DW_TEST_TOKEN", HOST_VALUE)
    monkeypatch.delenv("TAG", raising=False)
    return folder


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    root = tmp_path / "specs"
    for sub in ("conf", "secrets", "ctx"):
        (root / sub).mkdir(parents=True)
    (root / "conf" / "db.env").write_text("LEVEL=3\n")
    (root / "secrets" / "pw").write_text(SECRET + "\n")
    (root / "ctx" / "Dockerfile").write_text("FROM scratch\n")
    (root / "app.toml").write_text(SPEC)
    return root


def no_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_: object, **__: object) -> None:
        raise AssertionError("the spec directory was loaded: no snapshot hit")

    monkeypatch.setattr(loader, "load_dir", fail)


def test_a_hit_gives_the_desired_state_of_a_full_load(
        cache: Path, spec_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    specs, recipe = recipe_of(spec_dir)
    assert specs.ok and not specs.summary
    full = realise(recipe, "rev1")
    no_loading(monkeypatch)
    summary, again = recipe_of(spec_dir)
    assert again == recipe
    assert realise(again, "rev1") == full
    assert summary.summary and summary.ok and not summary.all_errors()
    assert {f.path for f in summary.files} == {"app.toml"}
    db = next(c for c in full.containers if c.name == "db")
    assert dict(db.config.env) == {"LEVEL": "3", "PASSWORD": SECRET, "TOKEN": HOST_VALUE,
                                   "MODE": "x"}
    with pytest.raises(ValueError, match="summary"):
        summary.resources()  # never mistaken for "no resources" (that would prune)


def test_no_secret_reaches_the_cache(cache: Path, spec_dir: Path) -> None:
    recipe_of(spec_dir)
    assert snapshot.lookup(spec_dir, None) is not None
    stored = [p for p in cache.rglob("*") if p.is_file()]
    assert any(p.parent.name == "desired" for p in stored)
    for path in stored:
        data = path.read_bytes()
        assert SECRET.encode() not in data, path
        assert HOST_VALUE.encode() not in data, path


def test_secret_and_host_values_are_read_on_every_hit(
        cache: Path, spec_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recipe_of(spec_dir)
    (spec_dir / "secrets" / "pw").write_text("rotated\n")
    monkeypatch.setenv("DW_TEST_TOKEN", "other")
    no_loading(monkeypatch)
    _, recipe = recipe_of(spec_dir)
    env = dict(next(c for c in realise(recipe).containers if c.name == "db").config.env)
    assert (env["PASSWORD"], env["TOKEN"]) == ("rotated", "other")


CHANGES = {
    "spec file edited": lambda root, mp: (root / "app.toml").write_text(
        SPEC.replace('MODE = "x"', 'MODE = "y"')),
    "spec file added": lambda root, mp: (root / "more.toml").write_text("[volume.more]\n"),
    "spec file removed": lambda root, mp: (root / "app.toml").rename(root / "app.toml.off"),
    "interpolated variable set": lambda root, mp: mp.setenv("TAG", "1.37"),
    ".env sets a variable": lambda root, mp: (root / ".env").write_text("TAG=1.35\n"),
    "secret file deleted": lambda root, mp: (root / "secrets" / "pw").unlink(),
    "env_file deleted": lambda root, mp: (root / "conf" / "db.env").unlink(),
    "Dockerfile deleted": lambda root, mp: (root / "ctx" / "Dockerfile").unlink(),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_what_a_load_depends_on_invalidates_the_snapshot(
        cache: Path, spec_dir: Path, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    recipe_of(spec_dir)
    assert snapshot.lookup(spec_dir, None) is not None
    CHANGES[change](spec_dir, monkeypatch)
    assert snapshot.lookup(spec_dir, None) is None


def test_unrelated_changes_keep_the_snapshot(
        cache: Path, spec_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recipe_of(spec_dir)
    monkeypatch.setenv("SOME_UNUSED_VARIABLE", "1")
    (spec_dir / "ctx" / "app.py").write_text("print(1)\n")  # the build digest is per run
    (spec_dir / "notes.md").write_text("not a spec file\n")
    assert snapshot.lookup(spec_dir, None) is not None


def test_project_option_and_invalid_directories(
        cache: Path, spec_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, recipe = recipe_of(spec_dir)
    assert recipe.project == "shop"
    assert snapshot.lookup(spec_dir, "other") is None  # --project is part of the key
    _, other = recipe_of(spec_dir, "other")
    assert other.project == "other"
    (spec_dir / "bad.toml").write_text("[container.bad]\nimage = 42\n")
    specs, _ = recipe_of(spec_dir)
    assert not specs.ok
    assert snapshot.lookup(spec_dir, None) is None  # invalid directories are never kept
    monkeypatch.setenv("DOCKWRIGHT_NO_CACHE", "1")
    (spec_dir / "bad.toml").unlink()
    recipe_of(spec_dir)
    assert snapshot.lookup(spec_dir, None) is None
