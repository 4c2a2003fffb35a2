"""Zero-downtime adoption of a running docker-compose 1.29 project (real daemon).

``dockwright import`` + ``apply --adopt-compose`` on what ``docker-compose up -d``
started: equal containers keep running (same id, same StartedAt), a container whose
spec differs is recreated with field-level reasons, the named volume keeps its
data, and afterwards ``dockwright down`` removes the adopted containers and
network and keeps the volume; ``diff --adopt-compose`` changes nothing.
"""

from __future__ import annotations

import json

import docker

from tests.compose.conftest import ComposeProject

COMPOSE = """
version: "3.7"
services:
  web:
    image: IMAGE
    command: ["sh", "-c", "echo kept > /data/mark; trap 'exit 0' TERM; while :; do sleep 1; done"]
    volumes: ["data:/data"]
    environment: {MODE: "one"}
    restart: unless-stopped
  worker:
    image: IMAGE
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
    labels: {tier: back}
    depends_on: [web]
volumes:
  data:
"""


def _started(client: docker.DockerClient, name: str) -> tuple[str, str]:
    c = client.containers.get(name)
    return c.id, c.attrs["State"]["StartedAt"]


def test_equal_containers_are_adopted_as_they_run_and_down_keeps_the_volume(
        compose_project: ComposeProject, docker_client: docker.DockerClient) -> None:
    p = compose_project
    p.write(COMPOSE)
    p.compose("up", "-d")
    web, worker = f"{p.name}_web_1", f"{p.name}_worker_1"
    before = {n: _started(docker_client, n) for n in (web, worker)}
    ran = p.dockwright("import", "-p", p.name)
    assert ran.code == 0, str(ran)
    ran = p.dockwright("diff", "dockwright", "--adopt-compose", p.name)
    assert ran.code == 0, str(ran)  # adoptions are no changes
    assert f"container {web}: in sync; adopted from docker-compose project {p.name}" in \
        ran.out, str(ran)
    assert "(2 containers adopted as they run)" in ran.out
    ran = p.dockwright("apply", "dockwright", "--adopt-compose", p.name)
    assert ran.code == 0, str(ran)
    assert {n: _started(docker_client, n) for n in (web, worker)} == before
    ran = p.dockwright("ps", "-p", p.name, "-o", "json")
    assert ran.code == 0 and {(i["name"], i["resource"]) for i in json.loads(ran.out)} == {
        (web, "web"), (worker, "worker")}, str(ran)
    # later passes own them without the flag, and find nothing to do
    ran = p.dockwright("diff", "dockwright", "-v")
    assert ran.code == 0 and "plan: no changes" in ran.out and "adopted" not in ran.out, \
        str(ran)
    ran = p.dockwright("down", "dockwright")
    assert ran.code == 0, str(ran)
    names = {c.name for c in docker_client.containers.list(all=True)}
    assert web not in names and worker not in names
    assert not docker_client.networks.list(names=[f"{p.name}_default"])
    volume = docker_client.volumes.get(f"{p.name}_data")  # kept
    out = docker_client.containers.run("dockwright-test/busybox:latest", ["cat", "/x/mark"],
                                       volumes={volume.name: {"bind": "/x", "mode": "ro"}},
                                       remove=True)
    assert out == b"kept\n"


def test_a_different_container_is_recreated_with_reasons_and_keeps_its_volume(
        compose_project: ComposeProject, docker_client: docker.DockerClient) -> None:
    p = compose_project
    p.write(COMPOSE)
    p.compose("up", "-d")
    web, worker = f"{p.name}_web_1", f"{p.name}_worker_1"
    before = {n: _started(docker_client, n) for n in (web, worker)}
    assert p.dockwright("import", "-p", p.name).code == 0
    spec = p.folder / "dockwright" / "web.toml"
    spec.write_text(spec.read_text().replace('MODE = "one"', 'MODE = "two"'))
    ran = p.dockwright("diff", "dockwright", "--adopt-compose", p.name)
    assert ran.code == 2, str(ran)
    assert f"container {web}" in ran.out and "env.MODE" in ran.out, str(ran)
    assert _started(docker_client, web) == before[web]  # diff changed nothing
    ran = p.dockwright("apply", "dockwright", "--adopt-compose", p.name)
    assert ran.code == 0, str(ran)
    new = docker_client.containers.get(web)
    assert new.id != before[web][0] and "MODE=two" in new.attrs["Config"]["Env"]
    assert new.labels.get("io.dockwright.project") == p.name
    assert not any(k.startswith("com.docker.compose.") for k in new.labels)
    # the worker follows the recreated web (depends_on): dockwright's rule for dependants
    assert docker_client.containers.get(worker).id != before[worker][0]
    assert p.dockwright("diff", "dockwright").code == 0
    mark = new.exec_run(["cat", "/data/mark"]).output
    assert mark == b"kept\n"
    assert p.dockwright("down", "dockwright").code == 0
    assert docker_client.volumes.get(f"{p.name}_data")


def test_short_names_replace_compose_containers_and_leave_one_offs_alone(
        compose_project: ComposeProject, docker_client: docker.DockerClient) -> None:
    """``import --names short``: the compose container of a service is replaced by one of
    the service's name (no mass-delete refusal: it is the same service); a one-off
    ``docker-compose run`` container of that service is not taken over."""
    p = compose_project
    svc = f"{p.name}svc"  # a container name of its own on a shared daemon
    p.write(COMPOSE.replace("  worker:", "  unused:").replace("  web:", f"  {svc}:")
            .replace("depends_on: [web]", f"depends_on: [{svc}]"))
    p.compose("up", "-d")
    one_off = p.compose("run", "-d", svc, "sleep", "600").out.strip()
    old = docker_client.containers.get(f"{p.name}_{svc}_1").id
    assert p.dockwright("import", "-p", p.name, "--names", "short").code == 0
    ran = p.dockwright("diff", "dockwright", "--adopt-compose", p.name)
    assert ran.code == 2, str(ran)
    assert f"docker-compose's container of {svc}: replaced by its declared name" in ran.out
    ran = p.dockwright("apply", "dockwright", "--adopt-compose", p.name)
    assert ran.code == 0, str(ran)
    names = {c.name: c for c in docker_client.containers.list(all=True)}
    assert f"{p.name}_{svc}_1" not in names and svc in names
    assert names[svc].exec_run(["cat", "/data/mark"]).output == b"kept\n"
    assert docker_client.containers.get(one_off).id  # still there, not adopted
    assert old not in {c.id for c in names.values()}


def test_adopt_compose_needs_the_docker_runtime(compose_project: ComposeProject) -> None:
    p = compose_project
    (p.folder / "specs").mkdir()
    (p.folder / "specs" / "a.toml").write_text('[container.a1]\nimage = "busybox"\n')
    ran = p.dockwright("diff", "specs", "--runtime", "native", "--adopt-compose", p.name)
    assert ran.code == 1 and "--adopt-compose takes over Docker containers, not native" \
        in ran.err, str(ran)


HEALTHY_DEPENDENCY = """
version: "3.7"
services:
  db:
    image: IMAGE
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
    healthcheck: {test: ["CMD", "true"], interval: 1s}
  web:
    image: IMAGE
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
    environment: {MODE: "one"}
    depends_on: {db: {condition: service_healthy}}
"""


def test_a_recreate_waits_for_an_adopted_healthy_dependency(
        compose_project: ComposeProject, docker_client: docker.DockerClient) -> None:
    """The dependency kept as it runs has only compose's labels: the wait still finds it."""
    p = compose_project
    p.write(HEALTHY_DEPENDENCY)
    p.compose("up", "-d")
    db = f"{p.name}_db_1"
    p.import_and_adopt()
    kept = _started(docker_client, db)
    spec = p.folder / "dockwright" / "web.toml"
    spec.write_text(spec.read_text().replace('MODE = "one"', 'MODE = "two"'))
    ran = p.dockwright("apply", "dockwright")
    assert ran.code == 0, str(ran)
    assert "env.MODE changed" in ran.out, str(ran)
    assert _started(docker_client, db) == kept
