"""Golden cases: spec sets under tests/fixtures/specs with their exact messages.

Each ``invalid/<case>/`` folder holds spec files and ``expected.txt``, the exact
lines ``dockwright validate`` prints; ``valid/full`` uses every feature of the
language and must load without a single error, with the values checked here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from specs.loader import load_dir
from specs.models import Container, EnvFromFile, EnvFromHost, Mount, Network, Port, Volume

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "specs"
INVALID = sorted(p.name for p in (FIXTURES / "invalid").iterdir() if p.is_dir())


def lines(root: Path) -> list[str]:
    errors = load_dir(root, environ={}).all_errors()
    errors.sort(key=lambda e: (e.file, e.line or 0, e.key_path, e.message))
    return [e.format() for e in errors]


@pytest.mark.parametrize("case", INVALID)
def test_invalid_case_prints_exactly_the_expected_lines(case: str) -> None:
    root = FIXTURES / "invalid" / case
    expected = (root / "expected.txt").read_text(encoding="utf-8").splitlines()
    assert lines(root) == expected


def test_every_invalid_case_has_errors_and_is_located() -> None:
    for case in INVALID:
        errors = load_dir(FIXTURES / "invalid" / case, environ={}).all_errors()
        assert errors, case
        assert all(e.line is not None for e in errors), case


def test_valid_full_spec_set_loads_without_errors() -> None:
    specs = load_dir(FIXTURES / "valid" / "full", environ={})
    assert specs.all_errors() == []
    assert specs.ok
    assert [f.path for f in specs.files] == ["app/services.toml", "project.toml"]
    assert specs.project.name == "full"
    names = {(r.kind, r.name) for r in specs.resources()}
    assert names == {("container", "db"), ("container", "client"), ("volume", "db-data"),
                     ("volume", "cache"), ("network", "backend"), ("network", "edge")}


def test_valid_full_values_are_normalised() -> None:
    root = FIXTURES / "valid" / "full"
    specs = load_dir(root, environ={"VERSION": "from-environ"})
    by_name = {r.name: r for r in specs.resources()}
    db, client = by_name["db"].spec, by_name["client"].spec
    assert isinstance(db, Container) and isinstance(client, Container)
    app = (root / "app").resolve()
    assert by_name["db"].line == 1 and by_name["client"].line == 18
    assert db.image.ref == "dockwright-examples/busybox:latest"
    assert db.image.archive == str(root.resolve() / "images" / "busybox.tar")
    assert db.command == ("sh", "-c", "exec nc -ll -p 3306 -e /bin/cat")
    assert db.env["DB_ROOT_PASSWORD"] == EnvFromFile(file=str(app / "secrets" / "db-root"))
    assert db.env["TOKEN"] == EnvFromHost(env="DB_TOKEN")
    assert db.env["PORT"] == "3306" and db.env["DEBUG"] == "false"
    assert db.env_file == (str(app / "db.env"),)
    assert db.ports == (Port(container=3306, host=13306, ip="127.0.0.1"),
                        Port(container=3307, host=13307, protocol="udp"), Port(container=9000))
    assert db.volumes[0] == Mount(type="volume", source="db-data", target="/var/lib/db")
    assert db.volumes[1] == Mount(type="bind", source=str(app / "ctx"), target="/ctx",
                                  read_only=True)
    assert db.volumes[2].size == 16 * 1024**2
    assert db.networks["backend"].aliases == ("database", "mysql")
    assert db.networks["edge"].aliases == ()
    assert str(db.restart) == "on-failure:3"
    assert db.healthcheck is not None and db.healthcheck.interval == 90.0
    assert db.healthcheck.test == ("CMD-SHELL", "nc -z 127.0.0.1 3306")
    assert db.healthcheck.timeout == 0.5
    assert db.resources.memory == 256 * 1024**2 and db.stop_timeout == 5.0
    # ${VAR} from the environment wins over .env; ${VAR:-default} uses .env's value
    assert client.image.args == {"VERSION": "from-environ"}
    assert client.image.ref == "example.com:5000/team/client:2.0"
    assert client.image.build == str(app / "ctx") and client.image.pull == "always"
    assert [(link.target, link.alias) for link in client.links] == [("db", "database")]
    assert client.volumes_from[0].read_only and client.depends_on == {"db": "healthy"}
    assert client.replicas == 3 and client.state == "stopped"
    assert isinstance(by_name["cache"].spec, Volume)
    backend = by_name["backend"].spec
    assert isinstance(backend, Network) and backend.internal


def test_dotenv_supplies_variables_when_environ_lacks_them() -> None:
    specs = load_dir(FIXTURES / "valid" / "full", environ={})
    client = next(r.spec for r in specs.resources() if r.name == "client")
    assert isinstance(client, Container)
    assert client.image.args == {"VERSION": "2.5"}


def test_invalid_file_freezes_only_what_it_declared() -> None:
    specs = load_dir(FIXTURES / "invalid" / "syntax", environ={})
    assert specs.invalid_files() == ["broken.toml", "twice.toml"]
    assert specs.frozen() == {("container", "web"), ("container", "other")}
    assert [r.name for r in specs.resources()] == ["fine"]


def test_missing_directory_is_an_error_not_an_exception(tmp_path: Path) -> None:
    specs = load_dir(tmp_path / "nope", environ={})
    assert not specs.ok
    assert "does not exist" in specs.all_errors()[0].message


def test_windows_files_load_with_the_right_lines(tmp_path: Path) -> None:
    text = '[container.web]\r\nimage = "busybox"\r\nreplicas = "2"\r\n'
    (tmp_path / "web.toml").write_bytes(b"\xef\xbb\xbf" + text.encode())
    errors = load_dir(tmp_path, environ={}).all_errors()
    assert [(e.line, e.key_path) for e in errors] == [(3, "container.web.replicas")]


def test_hidden_folders_and_files_and_other_extensions_are_skipped(tmp_path: Path) -> None:
    for name in (".git/x.toml", ".hidden.toml", "notes.txt", "sub/.cache/y.toml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("not toml at all")
    (tmp_path / "sub" / "ok.toml").write_text('[volume.data]\n')
    specs = load_dir(tmp_path, environ={})
    assert specs.ok and [f.path for f in specs.files] == ["sub/ok.toml"]
