"""Networks and volumes declared ``external = true`` that do not exist.

dockwright never creates an external object (someone else owns it). One that is missing
is a plan error naming it and the fix: ``diff`` and ``apply`` exit 1, ``status`` says
not in sync (it used to show the network "present"), and the containers that use it
are left alone, so Docker never makes an empty volume in place of the external one
(which a database would then initialise). Once it exists, ``apply`` converges.
"""

from __future__ import annotations

import json

import pytest

from .conftest import Project, loop_container

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("kind", ["network", "volume"])
def test_a_missing_external_object_is_an_error_and_nothing_is_made(project: Project,
                                                                   kind: str) -> None:
    p = project
    name = p.n("ext")
    use = (f'networks = ["default", "{name}"]' if kind == "network"
           else f'volumes = ["{name}:/data"]')
    key, value = use.split(" = ", 1)
    p.write("a.toml", f"[{kind}.{name}]\nexternal = true\n\n"
            + loop_container(p.n("a"), **{key: value}))

    diff = p.diff()
    assert diff.code == 1, str(diff)
    assert f"{kind} {name} is declared external but does not exist" in diff.text, str(diff)
    assert f"docker {kind} create {name}" in diff.text, str(diff)
    status = p.cli("status", "--output", "json")
    report = json.loads(status.out)
    assert report["in_sync"] is False, status.out
    entry = next(r for r in report["resources"] if r["name"] == name)
    assert entry["kind"] == kind and entry["actual"] == "absent" and not entry["in_sync"], entry
    apply = p.apply()
    assert apply.code == 1, str(apply)
    assert not p.exists("a"), "the container that uses it is left alone"
    assert not p.volume_exists("ext"), "Docker made no empty volume in its place"

    if kind == "network":
        p.client.networks.create(name)
    else:
        p.client.volumes.create(name)
    p.apply_ok()
    assert p.container("a").status == "running"
    assert p.diff().code == 0
