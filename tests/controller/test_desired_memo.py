"""What a long-running pass keeps between passes, and what it never keeps.

A ``watch`` pass on an unchanged spec folder gets the same snapshot object back
(``specs.cache.lookup(keep=True)``) and so the same desired services
(``controller.desired.service.services``) without hashing every spec again. These
tests prove the reuse and, above all, that every input still counts: a spec edit, a
variable, the revision, and a file a spec reads (a secret, an env file) that changes
with no spec edit.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from controller.desired.service import services
from controller.desired.specload import recipe_of

SPEC = """\
[project]
name = "memo"

[container.web]
image = "busybox:latest"
env = {{ TOKEN = {{ env = "DW_MEMO_TOKEN" }}, MODE = "{mode}" }}
"""
WITH_SECRET = """\
[project]
name = "memo"

[container.web]
image = "busybox:latest"
env = { PASSWORD = { file = "pw" } }
secrets = { api = { file = "api.key", target = "/run/secrets/api" } }
"""


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("DOCKWRIGHT_CACHE_DIR", str(folder))
    monkeypatch.setenv("DOCKWRIGHT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("DOCKWRIGHT_NO_CACHE", raising=False)
    monkeypatch.setenv("DW_MEMO_TOKEN", "one")
    return folder


def desired(root: Path, revision: str | None = None) -> tuple[object, object]:
    recipe = recipe_of(root, None, None, None, "swarm")[1]
    return recipe, services(recipe, revision)


def env_of(result: object, name: str = "web") -> dict[str, str]:
    spec = next(s.spec for s in result.services if s.resource == name)  # type: ignore[attr-defined]
    return dict(spec.env)


def test_an_unchanged_folder_gives_the_same_objects(tmp_path: Path) -> None:
    root = tmp_path / "specs"
    root.mkdir()
    (root / "app.toml").write_text(SPEC.format(mode="a"))
    desired(root)  # the full load writes the snapshot
    first_recipe, first = desired(root)  # read from the snapshot
    again_recipe, again = desired(root)
    assert again_recipe is first_recipe and again is first


def test_every_input_still_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "specs"
    root.mkdir()
    (root / "app.toml").write_text(SPEC.format(mode="a"))
    desired(root)
    _, first = desired(root)
    assert env_of(first) == {"TOKEN": "one", "MODE": "a"}

    monkeypatch.setenv("DW_MEMO_TOKEN", "two")  # a host variable the spec reads
    _, changed = desired(root)
    assert env_of(changed) == {"TOKEN": "two", "MODE": "a"}

    _, revised = desired(root, revision="abc123")  # another revision: another label
    assert revised is not changed
    assert dict(next(iter(revised.services)).spec.labels) != dict(
        next(iter(changed.services)).spec.labels)

    (root / "app.toml").write_text(SPEC.format(mode="b"))  # a spec edit
    desired(root)
    _, edited = desired(root)
    assert env_of(edited) == {"TOKEN": "two", "MODE": "b"}


def test_a_file_the_spec_reads_is_read_every_pass(tmp_path: Path) -> None:
    root = tmp_path / "specs"
    root.mkdir()
    (root / "app.toml").write_text(WITH_SECRET)
    (root / "pw").write_text("first-password\n")
    (root / "api.key").write_text("key-1")
    desired(root)
    recipe, before = desired(root)
    (root / "pw").write_text("second-password\n")  # no spec edit: only the files change
    (root / "api.key").write_text("key-2")
    again, after = desired(root)
    assert again is recipe  # the same snapshot ...
    assert after is not before  # ... but the files were read again
    old, new = before.services[0], after.services[0]  # type: ignore[attr-defined]
    assert old.hash != new.hash and old.spec.env != new.spec.env
    assert [o.data for o in new.objects] == [b"key-2"]
    assert {o.name for o in old.objects} != {o.name for o in new.objects}


def test_a_snapshot_rewritten_is_read_again(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "specs"
    root.mkdir()
    (root / "app.toml").write_text(SPEC.format(mode="a"))
    desired(root)
    recipe, _ = desired(root)
    for entry in (cache / "desired").iterdir():  # another process stored it anew
        entry.write_bytes(entry.read_bytes())
        os.utime(entry, ns=(1, 1))
    again, _ = desired(root)
    assert again is not recipe and again == recipe
