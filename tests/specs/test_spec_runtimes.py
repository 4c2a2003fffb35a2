"""Per-runtime key support (``specs.runtimes``): a key the chosen runtime does not support
is a located error naming the file, line, key path, runtime and fix; the same spec is
valid for a runtime that supports it; the snapshot of one runtime's load is not served
to another; every row of the table names a key the models have."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from controller.cli import main
from controller.desired.specload import recipe_of
from specs import runtimes
from specs.loader import load_dir
from specs.locate import Locator
from specs.models import KINDS
from specs.runtimes import ROWS, Row

SPEC = """\
[container.data]
image = "busybox"

[container.web]
image = "busybox"
env = { MODE = "x", TOKEN = "t" }
volumes_from = ["data:ro"]
"""


@pytest.fixture
def spec_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOCKWRIGHT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DOCKWRIGHT_NO_CACHE", raising=False)
    root = tmp_path / "specs"
    root.mkdir()
    (root / "web.toml").write_text(SPEC)
    return root


def test_an_unsupported_key_is_a_located_error_naming_runtime_and_fix(spec_dir: Path) -> None:
    specs = load_dir(spec_dir, runtime="swarm")
    assert [e.format() for e in specs.all_errors()] == [
        "web.toml:7: container.web.volumes_from: not supported by the swarm runtime (only "
        "docker and native support it) — Swarm tasks share no container's volumes: declare "
        "a named volume and mount it in each container that needs it"]
    assert specs.frozen() == {("container", "data"), ("container", "web")}  # the file's


@pytest.mark.parametrize("runtime", ["docker", "native", None, "fake"])
def test_a_runtime_that_supports_the_key_or_none_given_finds_no_error(
        spec_dir: Path, runtime: str | None) -> None:
    assert load_dir(spec_dir, runtime=runtime).ok


def test_an_unused_key_is_no_error(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('[container.web]\nimage = "busybox"\nvolumes_from = []\n')
    assert load_dir(tmp_path, runtime="swarm").ok


def test_a_table_entry_and_a_value_condition_are_located_at_the_entry(spec_dir: Path) -> None:
    specs = load_dir(spec_dir)
    resources = specs.resources("container")
    rows = [Row("container.env.*", frozenset({"docker"}), "use a file",
                when=lambda value: value == "t", what="this value")]
    errors = runtimes.check(resources, "native", lambda _f, path: Locator(SPEC).line_of(path),
                            rows)
    assert [(e.file, e.line, e.key_path, e.message, e.hint) for e in errors] == [
        ("web.toml", 6, "container.web.env.TOKEN",
         "this value is not supported by the native runtime (only docker supports it)",
         "use a file")]


def test_an_invalid_table_is_checked_too(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(
        '[container.data]\nimage = "busybox"\n\n'
        '[container.web]\nimage = "busybox"\nreplicas = -1\nvolumes_from = ["data"]\n')
    lines = [e.format() for e in load_dir(tmp_path, runtime="swarm").all_errors()]
    assert any(line.startswith("a.toml:7: container.web.volumes_from: not supported by the "
                               "swarm runtime") for line in lines), lines


def test_the_snapshot_of_one_runtime_is_not_served_to_another(spec_dir: Path) -> None:
    docker, _ = recipe_of(spec_dir, runtime="docker")
    assert docker.ok
    again, _ = recipe_of(spec_dir, runtime="docker")
    assert again.summary  # a snapshot hit
    swarm, _ = recipe_of(spec_dir, runtime="swarm")
    assert [e.key_path for e in swarm.all_errors()] == ["container.web.volumes_from"]


def test_validate_checks_the_runtime_given(spec_dir: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(spec_dir), "--runtime", "docker"]) == 0
    assert main(["validate", str(spec_dir), "--runtime", "native"]) == 0
    capsys.readouterr()


def _field(model: type[BaseModel], path: list[str]) -> bool:
    """Whether ``path`` names a field below ``model`` ("*": any entry of a table)."""
    if not path:
        return True
    head, rest = path[0], path[1:]
    if head == "*":
        return True  # the entries' type is checked by the loaded test below
    info = model.model_fields.get(head)
    if info is None:
        return False
    for candidate in (info.annotation, *getattr(info.annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return _field(candidate, rest)
    return not rest or rest[0] == "*"


@pytest.mark.parametrize("row", ROWS, ids=[r.key for r in ROWS])
def test_every_row_names_a_key_of_the_models(row: Row) -> None:
    kind, *path = row.path
    assert kind in KINDS and _field(KINDS[kind], path), f"{row.key} is no spec key"
    assert row.runtimes <= set(runtimes.RUNTIMES) and row.fix


NATIVE_SPEC = """\
[container.db]
image = "busybox"

[container.web]
image = "busybox"
security_opt = ["no-new-privileges", "seccomp=unconfined"]
mac_address = "02:42:ac:11:00:02"
logging = { driver = "syslog" }
pid = "container:db"

[container.ok]
image = "busybox"
security_opt = ["no-new-privileges:true"]
logging = { driver = "json-file" }
pid = "host"
network_mode = "none"
"""


def test_keys_the_native_runtime_cannot_carry_out_are_located(tmp_path: Path) -> None:
    (tmp_path / "web.toml").write_text(NATIVE_SPEC)
    errors = load_dir(tmp_path, runtime="native").all_errors()
    assert [(e.line, e.key_path, e.message) for e in errors] == [
        (6, "container.web.security_opt", "a security option other than no-new-privileges "
         "is not supported by the native runtime (only docker supports it)"),
        (8, "container.web.logging", "a log driver or log options is not supported by the "
         "native runtime (only docker supports it)"),
    ]
    assert all(e.hint for e in errors)
    assert load_dir(tmp_path, runtime="docker").ok
    assert not any(e.key_path.startswith("container.web.") and "by the native" in e.message
                   for e in load_dir(tmp_path, runtime="swarm").all_errors())


def test_diff_for_the_native_runtime_reports_them(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "specs"
    spec.mkdir()
    (spec / "web.toml").write_text('[container.web]\nimage = "busybox"\n'
                                   'security_opt = ["seccomp=unconfined"]\n')
    code = main(["diff", str(spec), "--runtime", "native", "--state-dir",
                 str(tmp_path / "state"), "-p", "dwt-native-rows"])
    err = capsys.readouterr().err
    assert code == 1
    assert ("web.toml:3: container.web.security_opt: a security option other than "
            "no-new-privileges is not supported by the native runtime") in err
