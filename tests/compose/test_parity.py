"""Proof that an imported project runs the same containers as docker-compose.

For every compose file of ``tests/compose/corpus/`` (the project's examples as
compose files, and files modelled on docker/compose's test fixtures and on
awesome-compose samples, images swapped for the local busybox image):
``docker-compose up -d`` (1.29, the real daemon), record every container's
inspect, remove it all, ``dockwright import --partial`` + ``apply``, record
again, and compare the fields of ``tests/compose/parity.py`` container by
container. The table of fields compared and differences per file is printed;
every difference must be listed, with its reason, in the README's table of
intended differences, and every row of that table must still occur.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import docker
import pytest

from tests.compose import parity
from tests.compose.conftest import ComposeProject, cleanup
from tests.conftest import wait_for

CORPUS = Path(__file__).parent / "corpus"
README = Path(__file__).resolve().parents[2] / "README.md"
FILES = sorted(p.name for p in CORPUS.iterdir() if (p / "docker-compose.yml").is_file())
ONLY = [f for f in os.environ.get("DWT_PARITY_FILES", "").split(",") if f]  # while developing


def _run_both(p: ComposeProject, client: docker.DockerClient, folder: Path
              ) -> tuple[dict[str, parity.Fields], dict[str, parity.Fields]]:
    compose_file = str(folder / "docker-compose.yml")
    ran = p.run(["docker-compose", "-p", p.name, "-f", compose_file, "up", "-d", "--build"])
    assert ran.code == 0, str(ran)
    theirs = parity.record(client, f"com.docker.compose.project={p.name}")
    cleanup(client, p.name)
    _wait_free(theirs)  # Docker releases a removed container's host ports a moment later
    out = p.folder / "specs"
    ran = p.dockwright("import", "-f", compose_file, "-p", p.name, "--out", str(out),
                       "--partial")
    assert ran.code == 0, str(ran)
    ran = p.dockwright("apply", str(out))
    assert ran.code == 0, f"{ran}\n" + "\n".join(
        f"--- {f.name}\n{f.read_text()}" for f in sorted(out.glob("*.toml")))
    ours = parity.record(client, f"io.dockwright.project={p.name}")
    return theirs, ours


def _wait_free(recorded: dict[str, parity.Fields]) -> None:
    ports = set()
    for f in recorded.values():
        for key, bound in (f["HostConfig.PortBindings"] or {}).items():
            ports |= {(b.get("HostIp") or "0.0.0.0", int(b["HostPort"]), key.partition("/")[2])
                      for b in bound or [] if b.get("HostPort")}

    def free() -> bool:
        for ip, port, proto in ports:
            kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
            with socket.socket(socket.AF_INET, kind) as sock:
                try:
                    sock.bind((ip, port))
                except OSError:
                    return False
        return True

    wait_for(free, f"host ports {sorted(p for _, p, _ in ports)} to be released")


def test_imported_projects_run_the_same_containers_as_compose(
        compose_project: ComposeProject, docker_client: docker.DockerClient,
        capsys: pytest.CaptureFixture[str]) -> None:
    allowed = parity.intended(README)
    rows = []
    found: list[parity.Difference] = []
    for file in ONLY or FILES:
        p = ComposeProject(f"{compose_project.name}{FILES.index(file)}",
                           compose_project.folder / file, compose_project.state)
        p.folder.mkdir()
        try:
            theirs, ours = _run_both(p, docker_client, CORPUS / file)
        finally:
            cleanup(docker_client, p.name)
            for image in docker_client.images.list():
                if any(t.startswith(p.name) for t in image.tags):
                    docker_client.images.remove(image.id, force=True)
        # the project name is per run: differences are reported with it taken out
        strip = {n: n.replace(p.name, "PROJECT") for n in {*theirs, *ours}}
        theirs = {strip[n]: _renamed(f, p.name) for n, f in theirs.items()}
        ours = {strip[n]: _renamed(f, p.name) for n, f in ours.items()}
        diffs = parity.compare(file, theirs, ours, {})
        rows.append((file, len(theirs), len(theirs) * len(parity.FIELDS), diffs))
        found += diffs
    with capsys.disabled():
        print("\n" + parity.table(rows))
    unlisted = [d.show() for d in found if (d.file, d.field) not in allowed]
    assert not unlisted, "differences not in the README's intended differences:\n" + \
        "\n".join(unlisted)
    seen = {(d.file, d.field) for d in found}
    stale = [f"{file}: {field}" for file, field in allowed if (file, field) not in seen
             and (not ONLY or file in ONLY)]
    assert not stale, "intended differences that no longer occur (remove the rows):\n" + \
        "\n".join(stale)


def _renamed(fields: parity.Fields, project: str) -> parity.Fields:
    """The per-run project name replaced by ``PROJECT`` in every value."""
    import json

    return {k: json.loads(json.dumps(v).replace(project, "PROJECT")) for k, v in fields.items()}
