"""After adoption, a setting the daemon also has a default for is still followed.

A container that docker-compose made carries none of dockwright's labels, so the
record of adoption keeps what its spec asked where the daemon has defaults of its
own (a log option, the IPC mode, ``/dev/shm``'s size): taking such a key out of the
spec later is a change (the container goes back to the daemon's default), as it is
for a container dockwright made. Also: a recorded container that is gone (here,
recreated by a later pass) leaves the record."""

from __future__ import annotations

import json

import docker

from tests.compose.conftest import ComposeProject

COMPOSE = """
version: "3.7"
services:
  app:
    image: IMAGE
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
    ipc: shareable
    logging:
      driver: json-file
      options: {max-size: "5m", max-file: "2"}
"""


def _record(p: ComposeProject) -> dict[str, object]:
    found = json.loads((p.state / "adopted" / f"docker-{p.name}.json").read_text())
    assert isinstance(found, dict)
    return found


def test_a_setting_taken_out_after_adoption_is_a_change(
        compose_project: ComposeProject, docker_client: docker.DockerClient) -> None:
    p = compose_project
    p.write(COMPOSE)
    p.compose("up", "-d")
    name = f"{p.name}_app_1"
    first = docker_client.containers.get(name).id
    p.import_and_adopt()
    assert docker_client.containers.get(name).id == first  # adopted as it ran
    assert _record(p)["containers"] == [first]
    spec = p.folder / "dockwright" / "app.toml"
    text = spec.read_text()
    assert 'ipc = "shareable"' in text and 'max-file = "2"' in text, text
    spec.write_text(text.replace(', max-file = "2"', ""))
    ran = p.dockwright("diff", "dockwright")
    assert ran.code == 2, str(ran)
    assert "max-file" in ran.out, str(ran)
    spec.write_text(text.replace('ipc = "shareable"\n', ""))
    ran = p.dockwright("diff", "dockwright")
    assert ran.code == 2 and "ipc" in ran.out, str(ran)
    ran = p.dockwright("apply", "dockwright")
    assert ran.code == 0, str(ran)
    after = docker_client.containers.get(name)
    assert after.id != first and after.attrs["HostConfig"]["IpcMode"] in ("private", "")
    assert _record(p)["containers"] == []  # the adopted one is gone
    ran = p.dockwright("diff", "dockwright")
    assert ran.code == 0, str(ran)
