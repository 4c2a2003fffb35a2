"""``dockwright import``: compose files in, a valid spec folder out (no daemon needed).

Covers discovery, ``-f`` merging, ``.env`` and interpolation, ``extends`` (same
file and another file), anchors and merge keys, ``x-`` fields, profiles, compose's
names of containers, volumes and networks, located errors with nothing written,
``--partial``, ``--force``, and that every result loads with the real loader.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from controller.cli import main
from controller.compose.importer import ImportFailed, Options, run
from controller.compose.interpolate import interpolate
from controller.compose.source import ComposeError
from specs.loader import load_dir


def _write(folder: Path, text: str, name: str = "docker-compose.yml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def _spec(out: Path, name: str) -> dict:
    return tomllib.loads((out / f"{name}.toml").read_text())


def test_interpolation_rules() -> None:
    env = {"A": "x", "E": ""}
    assert interpolate("${A}-$A-$$A", env) == "x-x-$A"
    assert interpolate("${B:-d}/${B-d}/${E:-d}/${E-d}", env) == "d/d/d/"
    with pytest.raises(ValueError, match="required: give B"):
        interpolate("${B:?give B}", env)
    with pytest.raises(ValueError, match="required"):
        interpolate("${E:?}", env)
    assert interpolate("${E?}", env) == ""
    with pytest.raises(ValueError, match="B is not set"):
        interpolate("$B", env)


def test_discovery_dotenv_anchors_and_names(tmp_path: Path) -> None:
    folder = tmp_path / "My App"
    _write(folder, """
version: "3.8"
x-base: &base
  restart: unless-stopped
  labels: {tier: "${TIER:-back}"}
services:
  web:
    <<: *base
    image: "busybox:${TAG}"
    command: sh -c 'sleep 1000'
    environment: [DEBUG=yes, PLAIN]
    ports: ["8000-8001:9000-9001", "127.0.0.1::53/udp"]
    volumes: ["data:/data", "./site:/site:ro"]
    depends_on: {db: {condition: service_healthy}}
    x-note: ignored
  db:
    image: busybox
    healthcheck: {test: ["CMD", "true"], interval: 1m30s}
    scale: 2
volumes:
  data: {}
""")
    (folder / ".env").write_text("TAG=1.36\nCOMPOSE_PROJECT_NAME=Shop.Front\n")
    result = run(Options(cwd=folder), environ={})
    assert result.project == "shopfront"
    out = folder / "dockwright"
    assert sorted(p.name for p in result.written) == ["db.toml", "project.toml", "web.toml"]
    web = _spec(out, "web")["container"]["web"]
    assert web["image"] == "busybox:1.36"
    assert web["container_name"] == "shopfront_web_1"
    assert web["restart"] == "unless-stopped" and web["labels"] == {"tier": "back"}
    assert web["env"] == {"DEBUG": "yes", "PLAIN": {"env": "PLAIN"}}
    assert web["ports"] == ["8000:9000", "8001:9001", "127.0.0.1::53/udp"]
    assert web["volumes"] == ["shopfront_data:/data", "../site:/site:ro"]
    assert web["depends_on"] == {"db": "healthy"}
    assert web["networks"] == {"default": {"aliases": ["web"]}}
    db = _spec(out, "db")["container"]["db"]
    assert db["container_name"] == "shopfront_db_{n}" and db["replicas"] == 2
    project = tomllib.loads((out / "project.toml").read_text())
    assert project["project"]["name"] == "shopfront"
    assert "shopfront_data" in project["volume"]
    assert (out / "web.toml").read_text().startswith("#:schema ")
    specs = load_dir(out, {"PLAIN": "1"})
    assert specs.ok, [e.format() for e in specs.all_errors()]


def test_several_files_merge_in_order_and_extends(tmp_path: Path) -> None:
    base = _write(tmp_path, """
services:
  web:
    extends: {file: common.yml, service: app}
    environment: {A: "1", B: "1"}
    volumes: ["./a:/data"]
  api:
    image: busybox
    ports: ["80:80"]
  worker:
    extends: web
    command: ["work"]
""")
    _write(tmp_path, """
services:
  app:
    image: busybox
    user: "1000"
    env_file: conf/app.env
""", "common.yml")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "app.env").write_text("X=1\n")
    over = _write(tmp_path, """
services:
  web:
    environment: {B: "2"}
    volumes: ["./b:/data"]
  api:
    ports: ["81:81"]
""", "override.yml")
    run(Options(files=(base, over), cwd=tmp_path, project="p"), environ={})
    out = tmp_path / "dockwright"
    web = _spec(out, "web")["container"]["web"]
    assert web["env"] == {"A": "1", "B": "2"}
    assert _spec(out, "api")["container"]["api"]["ports"] == ["80:80", "81:81"]
    assert web["volumes"] == ["../b:/data"]  # merged by the path inside the container
    assert web["user"] == "1000" and web["env_file"] == ["../conf/app.env"]
    worker = _spec(out, "worker")["container"]["worker"]
    assert worker["command"] == ["work"] and worker["user"] == "1000"
    assert worker["env"] == {"A": "1", "B": "2"}  # extends reads the merged files (compose 1.x)
    project = tomllib.loads((out / "project.toml").read_text())["project"]
    assert project["allow_host_paths"] == [".."]


def test_extends_circle_is_located(tmp_path: Path) -> None:
    _write(tmp_path, "services:\n  a:\n    extends: b\n  b:\n    extends: a\n")
    with pytest.raises(ComposeError, match=r"docker-compose.yml:\d: services\.\w\.extends: "
                                           r"extends makes a circle"):
        run(Options(cwd=tmp_path), environ={})


def test_profiles_keep_only_active_services(tmp_path: Path) -> None:
    _write(tmp_path, """
services:
  web: {image: busybox}
  debug: {image: busybox, profiles: [dev]}
""")
    first = run(Options(cwd=tmp_path, out=tmp_path / "a"), environ={})
    assert first.services == ("web",)
    second = run(Options(cwd=tmp_path, out=tmp_path / "b", profiles=("dev",)), environ={})
    assert second.services == ("web", "debug")


UNSUPPORTED = """services:
  web:
    image: busybox
    external_links: [other_db_1]
    cgroup_parent: m
"""


def test_unsupported_key_is_located_and_nothing_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, UNSUPPORTED)
    with pytest.raises(ImportFailed) as failed:
        run(Options(cwd=tmp_path), environ={})
    lines = [p.format() for p in failed.value.problems]
    assert lines[0].startswith("docker-compose.yml:4: services.web.external_links: not "
                               "supported — ")
    assert lines[1].startswith("docker-compose.yml:5: services.web.cgroup_parent: ")
    assert not (tmp_path / "dockwright").exists()
    code = main(["import", "-f", str(tmp_path / "docker-compose.yml"),
                 "--out", str(tmp_path / "o")])
    assert code == 1 and "docker-compose.yml:4: services.web.external_links" in \
        capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_partial_leaves_keys_as_comments(tmp_path: Path) -> None:
    _write(tmp_path, UNSUPPORTED)
    result = run(Options(cwd=tmp_path, partial=True), environ={})
    text = (result.out / "web.toml").read_text()
    assert "# not converted: external_links: not supported" in text
    assert len(result.left) == 2
    assert load_dir(result.out, {}).ok


def test_existing_files_need_force(tmp_path: Path) -> None:
    _write(tmp_path, "services:\n  web:\n    image: busybox\n")
    run(Options(cwd=tmp_path), environ={})
    (tmp_path / "dockwright" / "web.toml").write_text("# mine\n")
    with pytest.raises(ImportFailed, match="exists already"):
        run(Options(cwd=tmp_path), environ={})
    assert (tmp_path / "dockwright" / "web.toml").read_text() == "# mine\n"
    run(Options(cwd=tmp_path, force=True), environ={})
    assert "[container.web]" in (tmp_path / "dockwright" / "web.toml").read_text()


def test_short_names_and_container_name(tmp_path: Path) -> None:
    _write(tmp_path, """
services:
  web: {image: busybox}
  db: {image: busybox, container_name: the-db}
""")
    run(Options(cwd=tmp_path, short_names=True), environ={})
    out = tmp_path / "dockwright"
    assert "container_name" not in _spec(out, "web")["container"]["web"]
    assert _spec(out, "db")["container"]["db"]["container_name"] == "the-db"


def test_networks_and_named_objects(tmp_path: Path) -> None:
    _write(tmp_path, """
services:
  web:
    image: busybox
    networks:
      front: {aliases: [www]}
      back:
networks:
  front: {driver: bridge, ipam: {config: [{subnet: 172.31.250.0/24}]}}
  back: {external: true, name: shared}
volumes:
  keep: {name: fixed-name}
""")
    run(Options(cwd=tmp_path, project="p"), environ={})
    out = tmp_path / "dockwright"
    web = _spec(out, "web")["container"]["web"]
    assert web["networks"] == {"p_front": {"aliases": ["web", "www"]},
                               "shared": {"aliases": ["web"]}}
    project = tomllib.loads((out / "project.toml").read_text())
    assert project["network"]["p_front"] == {"subnet": "172.31.250.0/24"}
    assert project["network"]["shared"] == {"external": True}
    assert "fixed-name" in project["volume"]


def test_yaml_error_is_located(tmp_path: Path) -> None:
    _write(tmp_path, "services:\n  web:\n    image: [busybox\n")
    with pytest.raises(ComposeError, match=r"docker-compose.yml:\d+: invalid YAML"):
        run(Options(cwd=tmp_path), environ={})


def test_container_name_clash_is_a_spec_error(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('[container.a1]\nimage = "busybox"\n'
                                     'container_name = "same"\n'
                                     '[container.b1]\nimage = "busybox"\n'
                                     'container_name = "same"\n')
    errors = [e.format() for e in load_dir(tmp_path, {}).all_errors()]
    assert any("runs as same, the name of container a1" in e for e in errors), errors
    (tmp_path / "a.toml").write_text('[container.a1]\nimage = "busybox"\nreplicas = 2\n'
                                     'container_name = "one"\n')
    errors = [e.format() for e in load_dir(tmp_path, {}).all_errors()]
    assert any("put {n} where the replica number goes" in e for e in errors), errors


def test_yaml_1_1_values_merge_keys_and_flow_colons(tmp_path: Path) -> None:
    """What docker-compose 1.x's PyYAML reads: yes/on are true, 0440 is octal, a merge key's
    keys come first and the service's own win, ``[a:b]`` in a flow sequence is a string."""
    _write(tmp_path, """
x-defaults: &defaults
  restart: always
  environment: {FROM: anchor}
services:
  web:
    <<: *defaults
    image: busybox
    environment: {SWITCH: on, TIME: 1:30, OWN: "x"}
    volumes: [data:/data]
    tty: yes
volumes: {data: {}}
""")
    run(Options(cwd=tmp_path, project="p"), environ={})
    web = _spec(tmp_path / "dockwright", "web")["container"]["web"]
    assert web["restart"] == "always" and web["tty"] is True
    assert web["env"] == {"SWITCH": "true", "TIME": "90", "OWN": "x"}
    assert web["volumes"] == ["p_data:/data"]


def test_keys_map_onto_the_spec_language(tmp_path: Path) -> None:
    """One service using most compose keys: the values the spec gets, and it loads."""
    (tmp_path / "pw.txt").write_text("secret\n")
    _write(tmp_path, """
services:
  project:
    image: busybox
    pull_policy: always
    deploy:
      replicas: 1
      resources:
        limits: {cpus: "0.5", memory: 64M, pids: 50}
        reservations: {memory: 32M, cpus: "0.25"}
      restart_policy: {condition: on-failure, max_attempts: 3}
      placement: {constraints: [node.role == manager]}
    healthcheck: {disable: true}
    logging: {driver: json-file, options: {max-size: 1m}}
    extra_hosts: {db.local: 10.0.0.5}
    sysctls: [net.core.somaxconn=1024]
    ulimits: {nofile: 1024}
    stop_grace_period: 5s
    secrets: [{source: pw, target: db, mode: 0440}]
    configs: [{source: conf, target: /etc/app.conf}]
  side:
    image: busybox
    network_mode: service:project
    ipc: service:project
    depends_on: {project: {condition: service_completed_successfully}}
secrets:
  pw: {file: ./pw.txt}
configs:
  conf: {file: ./pw.txt}
""")
    result = run(Options(cwd=tmp_path, project="p", out=tmp_path / "specs"), environ={})
    assert sorted(p.name for p in result.written) == [
        "project.toml", "service-project.toml", "side.toml"]
    web = _spec(result.out, "service-project")["container"]["project"]
    assert web["image"] == {"ref": "busybox", "pull": "always"}
    assert web["resources"] == {"cpus": 0.5, "memory": "64M", "pids": 50,
                                "reservations": {"memory": "32M"}}
    assert web["restart"] == "on-failure:3" and web["replicas"] == 1
    assert web["healthcheck"] == {"disable": True}
    assert web["logging"] == {"driver": "json-file", "options": {"max-size": "1m"}}
    assert web["extra_hosts"] == {"db.local": "10.0.0.5"}
    assert web["sysctls"] == {"net.core.somaxconn": "1024"} and web["ulimits"] == {"nofile": 1024}
    assert web["stop_timeout"] == "5s"
    assert web["secrets"] == {"pw": {"file": "../pw.txt", "mode": "0440",
                                     "target": "/run/secrets/db"}}
    assert web["configs"] == {"/etc/app.conf": {"file": "../pw.txt"}}
    text = (result.out / "service-project.toml").read_text()
    assert "# deploy.placement: Swarm only; docker-compose up ignores it too" in text
    assert "# deploy.resources.reservations.cpus: only Swarm schedules by it" in text
    side = _spec(result.out, "side")["container"]["side"]
    assert side["network_mode"] == "container:project" and side["ipc"] == "container:project"
    assert side["depends_on"] == {"project": "completed"}
    assert load_dir(result.out, {}).ok
