"""What ``why``, ``status``, ``diff`` and ``down`` say after ``apply --adopt-compose``.

A container adopted as it ran keeps docker-compose 1.29's labels; ``why`` and
``status`` must call it the project's own, adopted from the compose project (not
a compose container left alone), a second ``diff`` (with or without the flag)
and ``apply --adopt-compose`` change nothing, and ``down`` keeps the volume.
Neighbours: ``tests/compose/test_adopt.py`` (the adoption itself),
``controller.execution.explain``, ``controller.execution.status``.
"""

from __future__ import annotations

import json

import docker

from tests.compose.conftest import ComposeProject
from tests.compose.test_adopt_watch import COMPOSE


def test_why_and_status_say_adopted_and_later_passes_change_nothing(
        compose_project: ComposeProject, docker_client: docker.DockerClient) -> None:
    p = compose_project
    p.write(COMPOSE)
    p.compose("up", "-d")
    web, worker = f"{p.name}_web_1", f"{p.name}_worker_1"
    ids = {n: docker_client.containers.get(n).id for n in (web, worker)}
    p.import_and_adopt()

    # why NAME, with no project and no spec folder given: found through the record
    ran = p.dockwright("why", web)
    assert ran.code == 0, str(ran)
    assert f"owner         project {p.name}, adopted from docker-compose project {p.name}" \
        in ran.out and "left alone" not in ran.out, str(ran)
    assert "state         in sync (running)" in ran.out, str(ran)
    why = json.loads(p.dockwright("why", "dockwright", web, "-o", "json").out)
    assert (why["ownership"], why["owner"], why["adopted_from"], why["resource"]) == (
        "adopted", p.name, p.name, "web")

    ran = p.dockwright("status", "dockwright")
    assert ran.code == 0, str(ran)
    adopted = f"(adopted from docker-compose project {p.name})"
    for kind, name in (("container", web), ("container", worker),
                       ("volume", f"{p.name}_data"), ("network", f"{p.name}_default")):
        assert any(line.split()[1:3] == [kind, name] and line.endswith(adopted)
                   for line in ran.out.splitlines()), f"{kind} {name}:\n{ran}"
    report = json.loads(p.dockwright("status", "dockwright", "-o", "json").out)
    assert {r["name"]: r["adopted_from"] for r in report["resources"]} == {
        web: p.name, worker: p.name, f"{p.name}_data": p.name, f"{p.name}_default": p.name}

    # stopped by hand: still adopted, drifted, healed by the next apply in place
    docker_client.containers.get(worker).stop(timeout=1)
    why = json.loads(p.dockwright("why", worker, "-o", "json").out)
    assert why["ownership"] == "adopted" and why["state"]["kind"] == "drifted", why

    # later passes, with and without the flag, plan nothing more
    ran = p.dockwright("apply", "dockwright", "--adopt-compose", p.name)
    assert ran.code == 0, str(ran)
    for args in (["diff", "dockwright"], ["diff", "dockwright", "--adopt-compose", p.name]):
        ran = p.dockwright(*args)
        assert ran.code == 0 and "plan: no changes" in ran.out, str(ran)
    ran = p.dockwright("apply", "dockwright", "--adopt-compose", p.name)
    assert ran.code == 0 and "no changes" in ran.out, str(ran)
    assert {n: docker_client.containers.get(n).id for n in (web, worker)} == ids

    ran = p.dockwright("down", "dockwright")
    assert ran.code == 0, str(ran)
    names = {c.name for c in docker_client.containers.list(all=True)}
    assert web not in names and worker not in names
    assert docker_client.volumes.get(f"{p.name}_data")  # kept
