"""Secrets through the CLI on the real Docker daemon: a secret's value reaches the
container and nothing else: not ``docker inspect`` (beyond the bind path), not the
labels, not ``diff`` (text or JSON), not the structured logs of ``apply``, not the
journal; ``history`` names the secret that changed; ``down`` removes the copies.

Neighbours: ``controller.execution.copies``, ``runtime.docker.convert``;
``tests/contract/test_secrets_configs.py`` (the same behaviour on every driver).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .conftest import Project, loop_container, run_cli

pytestmark = pytest.mark.docker

FIRST, SECOND = "first-Value-9c1e", "second-Value-47ab"


def test_a_secret_value_reaches_the_container_and_nothing_else(
        project: Project, tmp_path: Path) -> None:
    p = project
    state = tmp_path / "state"
    env = {"DOCKWRIGHT_STATE_DIR": str(state)}
    web = p.n("web")

    def cli(*args: str) -> str:
        run = run_cli(["--project", p.name, *args], env=env)
        assert run.code in (0, 2), str(run)
        return run.out + run.err

    p.write("pw", FIRST + "\n")
    p.write("web.toml", loop_container(web, secrets='{ pw = { file = "pw" } }'))
    said = cli("--log-format", "json", "apply", str(p.dir))
    assert p.exec("web", "cat", "/run/secrets/pw") == (0, FIRST + "\n")
    p.write("pw", SECOND + "\n")
    said += cli("diff", str(p.dir)) + cli("diff", str(p.dir), "--output", "json")
    assert "secrets.pw changed" in said
    said += cli("--log-format", "json", "-v", "apply", str(p.dir))
    assert p.exec("web", "cat", "/run/secrets/pw") == (0, SECOND + "\n")
    said += cli("history", "--output", "json") + cli("why", web)
    assert "secrets.pw" in cli("history")
    inspect = subprocess.run(["docker", "inspect", web], capture_output=True, text=True,
                             check=True).stdout
    assert str(state / "files" / "docker" / p.name) in inspect  # the bind path, only
    journal = b"".join(f.read_bytes() for f in state.glob("journal.db*"))  # -wal too
    for value in (FIRST, SECOND):
        assert value not in said, "a secret's value was printed"
        assert value not in inspect, "a secret's value is in docker inspect"
        assert value.encode() not in journal, "a secret's value is in the journal"
    copies = state / "files" / "docker" / p.name
    assert len(list(copies.iterdir())) == 1, "the first value's copy was kept"
    cli("down", str(p.dir))
    assert not copies.exists(), "down left the copies"
