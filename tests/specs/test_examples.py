"""The examples validate, point at the schema, and their busybox archive is a real image."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest

from specs.loader import load_dir

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SCRIPT = ROOT / "scripts" / "make_busybox_archive.py"
FOLDERS = sorted(p.name for p in EXAMPLES.iterdir()  # spec directories only
                 if p.is_dir() and p.name != "images" and any(p.rglob("*.toml")))


def build(output: Path, tag: str = "dockwright-examples/busybox:latest") -> None:
    subprocess.run([sys.executable, str(SCRIPT), str(output), "--tag", tag], check=True,
                   capture_output=True)


@pytest.fixture(scope="module")
def examples_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The examples with a freshly built archive, outside the work tree."""
    copy = tmp_path_factory.mktemp("examples") / "examples"
    shutil.copytree(EXAMPLES, copy, ignore=shutil.ignore_patterns("*.tar"))
    build(copy / "images" / "busybox.tar")
    return copy


def test_there_are_the_two_required_examples() -> None:
    assert {"two-tier", "web"} <= set(FOLDERS)


@pytest.mark.parametrize("name", FOLDERS)
def test_example_is_valid(examples_copy: Path, name: str) -> None:
    specs = load_dir(examples_copy / name, environ={})
    assert [e.format() for e in specs.all_errors()] == []
    assert specs.resources("container")
    assert (EXAMPLES / name / "README.md").is_file()


@pytest.mark.parametrize("name", FOLDERS)
def test_spec_files_reference_the_committed_schema(name: str) -> None:
    for path in sorted((EXAMPLES / name).rglob("*.toml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("#:schema "), path
        assert (path.parent / first.split(" ", 1)[1]).resolve() == (
            ROOT / "schema" / "dockwright.schema.json"), path


def test_two_tier_has_what_the_issue_asks_for(examples_copy: Path) -> None:
    specs = load_dir(examples_copy / "two-tier", environ={})
    by_name = {r.name: r.spec for r in specs.resources()}
    db, client = by_name["db"], by_name["client"]
    assert db.env["DB_ROOT_PASSWORD"].file.endswith("secrets/db-root")  # type: ignore[union-attr]
    assert db.ports[0].host == 13306  # type: ignore[union-attr]
    assert db.volumes[0].type == "volume" and db.volumes[0].source == "db-data"  # type: ignore[union-attr]
    assert [(link.target, link.alias) for link in client.links] == [("db", "database")]  # type: ignore[union-attr]


def _members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: m for m in tar.getmembers()}


def _read(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.extractfile(name)
        assert member is not None
        return member.read()


def test_archive_is_a_reproducible_docker_save(tmp_path: Path) -> None:
    build(tmp_path / "a.tar")
    build(tmp_path / "b.tar")
    data = (tmp_path / "a.tar").read_bytes()
    assert data == (tmp_path / "b.tar").read_bytes()
    manifest = json.loads(_read(data, "manifest.json"))
    assert manifest[0]["RepoTags"] == ["dockwright-examples/busybox:latest"]
    config = json.loads(_read(data, manifest[0]["Config"]))
    layer = _read(data, manifest[0]["Layers"][0])
    assert config["rootfs"]["diff_ids"] == [f"sha256:{hashlib.sha256(layer).hexdigest()}"]
    assert manifest[0]["Config"] == hashlib.sha256(
        _read(data, manifest[0]["Config"])).hexdigest() + ".json"
    files = _members(layer)
    assert files["bin/busybox"].isfile() and files["bin/busybox"].mode == 0o755
    assert files["bin/sh"].issym() and files["bin/sh"].linkname == "busybox"
    assert files["bin/nc"].issym() and files["bin/httpd"].issym()
    assert files["tmp"].isdir() and files["tmp"].mode == 0o1777
    assert files["www"].isdir() and files["etc/passwd"].isfile() and files["etc/group"].isfile()
    assert {m.mtime for m in files.values()} == {0}
    assert {m.mtime for m in _members(data).values()} == {0}


@pytest.mark.docker
def test_archive_loads_and_runs_on_docker(tmp_path: Path) -> None:
    tag = f"dwt-{uuid.uuid4().hex[:8]}/busybox:test"
    build(tmp_path / "image.tar", tag)
    try:
        subprocess.run(["docker", "load", "-i", str(tmp_path / "image.tar")], check=True,
                       capture_output=True)
        out = subprocess.run(["docker", "run", "--rm", "--network", "none", tag, "sh", "-c",
                              "echo hello from $(busybox | head -1 | cut -d' ' -f1)"],
                             check=True, capture_output=True, text=True).stdout
        assert out.strip() == "hello from BusyBox"
    finally:
        subprocess.run(["docker", "rmi", tag], capture_output=True, check=False)
