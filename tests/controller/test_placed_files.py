"""Secrets and configs on the desired side (``controller.desired.files``, ``state``) and in
the comparison (``controller.planning.compare.placed_changes``): a keyed digest, never the
content, in the config; the copy named by digest, mode and owner; a hash that does not
depend on where the state folder is; changes named by secret, a secret's content never
shown (not even its digest)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
from pathlib import Path

import pytest

from controller.desired.hostkey import is_keyed
from controller.desired.specload import recipe_of
from controller.desired.state import base_hash, realise
from controller.planning.compare import placed_changes
from runtime.types import FileMount

VALUE = "v4lue-8d1f"


@pytest.fixture
def spec_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOCKWRIGHT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DOCKWRIGHT_NO_CACHE", "1")
    root = tmp_path / "specs"
    root.mkdir()
    (root / "pw").write_text(VALUE)
    (root / "a.toml").write_text(
        '[container.web]\nimage = "busybox"\nreplicas = 2\n'
        'secrets = { pw = { file = "pw", mode = "0400", uid = 7 } }\n'
        'configs = { "/etc/a.conf" = { file = "pw" } }\n')
    return root


def test_a_keyed_digest_and_a_copy_per_content_and_owner(spec_dir: Path, tmp_path: Path) -> None:
    _, recipe = recipe_of(spec_dir)
    first, second = realise(recipe, runtime="native").containers
    config, secret = first.config.files
    assert (secret.kind, secret.name, secret.target, secret.mode, secret.uid) == (
        "secret", "pw", "/run/secrets/pw", 0o400, 7)
    assert (config.kind, config.target, config.mode) == ("config", "/etc/a.conf", 0o444)
    assert is_keyed(secret.digest) and secret.digest == config.digest  # same content
    folder = tmp_path / "state" / "files" / "native" / recipe.project
    assert Path(secret.source) == folder / f"{secret.digest[3:]}-0400-7-0"
    assert secret.source != config.source  # same content, other owner: two copies
    assert second.config.files == first.config.files  # replicas share the copies
    assert VALUE not in repr(first) and VALUE not in repr(first.config)
    assert dict(first.file_contents)[secret.source] == VALUE.encode()


def test_the_hash_does_not_depend_on_where_the_copies_are(spec_dir: Path) -> None:
    _, recipe = recipe_of(spec_dir)
    c = realise(recipe).containers[0]
    moved = dataclasses.replace(c.config, files=tuple(
        dataclasses.replace(f, source="/elsewhere" + f.source) for f in c.config.files))
    assert base_hash(moved, c.image, dict(c.files)) == base_hash(c.config, c.image,
                                                                  dict(c.files))


def _file(kind: str, digest: str = "k1:aa", mode: int = 0o444, name: str = "pw") -> FileMount:
    return FileMount(kind, name, f"/run/secrets/{name}", digest, mode, 0, 0, f"/s/{digest}")


def test_changes_name_the_secret_and_never_show_its_content() -> None:
    (change,) = placed_changes((_file("secret", "k1:bb"),), (_file("secret", "k1:aa"),))
    assert (change.reason, change.render()) == ("secrets.pw changed", "secrets.pw: *** -> ***")
    (change,) = placed_changes((_file("secret", mode=0o400),), (_file("secret"),))
    assert change.render() == ("secrets.pw: /run/secrets/pw mode=0444 uid=0 gid=0 -> "
                               "/run/secrets/pw mode=0400 uid=0 gid=0")
    (change,) = placed_changes((_file("config", "k1:bb"),), (_file("config", "k1:aa"),))
    assert change.render().endswith("content=k1:aa -> /run/secrets/pw mode=0444 uid=0 gid=0 "
                                    "content=k1:bb")
    (change,) = placed_changes((), (_file("secret"),))
    assert change.render() == "secrets.pw: *** -> (unset)"
    moved = dataclasses.replace(_file("secret"), source="/elsewhere")
    assert placed_changes((moved,), (_file("secret"),)) == []


def test_copies_are_written_owned_and_moded_or_fail_naming_the_secret(
        spec_dir: Path, tmp_path: Path) -> None:
    from controller.execution import copies

    _, recipe = recipe_of(spec_dir)
    c = realise(recipe).containers[0]
    copies.write(c)
    for f in c.config.files:
        st = os.stat(f.source)
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (f.mode, f.uid, f.gid)
        assert Path(f.source).read_text() == VALUE
    folder = Path(c.config.files[0].source).parent
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    os.chmod(c.config.files[0].source, 0o644)  # tampered with: written again
    copies.write(c)
    assert stat.S_IMODE(os.stat(c.config.files[0].source).st_mode) == c.config.files[0].mode
    shutil.rmtree(tmp_path / "state" / "files")
    (tmp_path / "state" / "files").write_text("not a folder")
    with pytest.raises(copies.CopyError) as caught:
        copies.write(c)
    assert "secret 'pw'" in str(caught.value) or "config" in str(caught.value)
    assert VALUE not in str(caught.value)
