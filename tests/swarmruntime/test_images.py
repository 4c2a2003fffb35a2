"""Images built on this host reach Swarm nodes through the ``[project] registry``: built,
tagged with their content digest, pushed, and pulled by reference; a changed build
context is a new reference and a rolling update."""

from __future__ import annotations

from pathlib import Path

from runtime.swarm.driver import SwarmDriver
from tests.swarmruntime.conftest import IMAGE, Cli


def test_a_built_image_is_pushed_and_rolled_out(swarm_cli: Cli, swarm: SwarmDriver,
                                                netns_registry: str, name: str,
                                                tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    (specs / "ctx").mkdir(parents=True)
    (specs / "ctx" / "Dockerfile").write_text(f"FROM {IMAGE}\nCMD [\"sleep\", \"100000\"]\n")
    (specs / "app.toml").write_text(f"""[project]
name = "{name}"
registry = "{netns_registry}"

[container.{name}-app]
image = {{ build = "ctx" }}
stop_timeout = "1s"
""")
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 0, out + err
    first = swarm.inspect_service(f"{name}-app")
    assert first.spec.image.startswith(f"{netns_registry}/{name}/{name}-app:"), first.spec.image
    assert first.running == 1
    (specs / "ctx" / "Dockerfile").write_text(f"FROM {IMAGE}\nCMD [\"sleep\", \"99999\"]\n")
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 0 and "image changed" in out, out + err
    second = swarm.inspect_service(f"{name}-app")
    assert second.spec.image != first.spec.image and second.running == 1
    code, out, _ = swarm_cli("apply", str(specs))  # built again: the same reference
    assert code == 0 and "no changes" in out, out
    assert swarm.inspect_service(f"{name}-app").version == second.version
    swarm_cli("down", str(specs))


def test_no_registry_is_a_located_error(swarm_cli: Cli, tmp_path: Path, name: str) -> None:
    specs = tmp_path / "specs"
    (specs / "ctx").mkdir(parents=True)
    (specs / "ctx" / "Dockerfile").write_text(f"FROM {IMAGE}\n")
    (specs / "app.toml").write_text(f'[container.{name}]\nimage = {{ build = "ctx" }}\n')
    code, out, err = swarm_cli("validate", str(specs))
    said = out + err
    assert code == 1 and "app.toml:2: " in said and "[project] registry" in said, said
