"""``pull = "always"`` on Swarm: the tag is resolved at the registry each pass and the
service pinned to that digest; an update is sent only when the registry serves another
image (cause ``image``), never when nothing changed."""

from __future__ import annotations

import io
import json
from pathlib import Path

from runtime.swarm.driver import SwarmDriver
from tests.dockerd import PrivateDockerd
from tests.swarmruntime.conftest import IMAGE, Cli
from tests.swarmruntime.test_apply import write


def test_pull_always_pins_the_digest_and_updates_when_it_moves(
        swarm_host: PrivateDockerd, swarm_cli: Cli, swarm: SwarmDriver, netns_registry: str,
        name: str, tmp_path: Path) -> None:
    ref = f"{netns_registry}/{name}/app:v1"
    swarm.tag_image(IMAGE, ref)
    swarm.push_image(ref)
    specs = write(tmp_path / "specs", name, f"""[container.{name}-app]
image = "{ref}"
pull = "always"
command = ["sleep", "100000"]
stop_timeout = "1s"
""")
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 0, out + err
    first = swarm.inspect_service(f"{name}-app")
    assert first.pin == swarm.resolve_digest(ref) and first.running == 1, first
    code, out, _ = swarm_cli("apply", str(specs))
    assert code == 0 and "no changes" in out, out
    assert swarm.inspect_service(f"{name}-app").version == first.version

    client = swarm_host.client()  # another image behind the same tag
    try:
        client.images.build(fileobj=io.BytesIO(f"FROM {IMAGE}\nLABEL v=2\n".encode()),
                            tag=ref, rm=True)
    finally:
        client.close()
    swarm.push_image(ref)
    moved = swarm.resolve_digest(ref)
    assert moved != first.pin
    code, out, _ = swarm_cli("diff", str(specs), "--output", "json")
    action = next(a for a in json.loads(out)["actions"] if a["name"] == f"{name}-app")
    assert code == 2 and (action["kind"], action["cause"]) == ("update", "image"), action
    assert action["changes"][0]["new"] == f"{ref}@{moved}", action
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 0, out + err
    second = swarm.inspect_service(f"{name}-app")
    assert second.pin == moved and second.running == 1, second
    code, out, _ = swarm_cli("apply", str(specs))
    assert code == 0 and "no changes" in out, out
    assert swarm.inspect_service(f"{name}-app").version == second.version
    swarm_cli("down", str(specs))


def _push(host: PrivateDockerd, swarm: SwarmDriver, ref: str, script: str) -> str:
    """Build an image whose /run.sh is ``script``, push it under ``ref``; its digest."""
    dockerfile = f"FROM {IMAGE}\nRUN printf '%s\\n' '#!/bin/sh' '{script}' > /run.sh && " \
                 "chmod +x /run.sh\n"
    client = host.client()
    try:
        client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=ref, rm=True)
    finally:
        client.close()
    swarm.push_image(ref)
    return swarm.resolve_digest(ref)


def test_a_rolled_back_image_is_tried_again_once_the_tag_serves_a_fixed_one(
        swarm_host: PrivateDockerd, swarm_cli: Cli, swarm: SwarmDriver, netns_registry: str,
        name: str, tmp_path: Path) -> None:
    """The rolled-back digest is held (no update loop); a fixed image pushed under the same
    tag is the user's fix: the next pass sends it, with no change to the spec."""
    ref = f"{netns_registry}/{name}/app:latest"
    _push(swarm_host, swarm, ref, "exec sleep 100000")
    specs = write(tmp_path / "specs", name, f"""[container.{name}-app]
image = "{ref}"
pull = "always"
command = ["/run.sh"]
stop_timeout = "1s"
update = {{ order = "start-first", failure_action = "rollback", monitor = "2s" }}
""")
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 0, out + err
    good = swarm.inspect_service(f"{name}-app")
    bad = _push(swarm_host, swarm, ref, "sleep 1; exit 3")
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 1 and "rolled back: " in out, out + err
    back = swarm.inspect_service(f"{name}-app")
    assert back.pin == good.pin, "Swarm put the good digest back"
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 1 and "rolled back" in err, out + err
    assert swarm.inspect_service(f"{name}-app").version == back.version, "not sent again"
    assert bad != good.pin
    fixed = _push(swarm_host, swarm, ref, "exec sleep 99999")
    code, out, err = swarm_cli("apply", str(specs))
    assert code == 0, out + err
    now = swarm.inspect_service(f"{name}-app")
    assert now.pin == fixed and now.running == 1, now
    code, out, _ = swarm_cli("apply", str(specs))
    assert code == 0 and "no changes" in out, out
    swarm_cli("down", str(specs))
