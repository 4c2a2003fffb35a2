"""``dockwright watch`` follows a secret's file: an edit of it (not of a spec file) starts
a pass that recreates the container with the new content, and the service's log never
holds the value. The real service (a subprocess, ``--resync 0``) against the real Docker
daemon. Neighbours: ``controller.service.triggers`` (``referenced``),
``tests/watch/test_watch_dir.py`` (the same for env files).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.watch.helpers import Service, container_toml, get

pytestmark = pytest.mark.docker


def _secret(dclient: Any, name: str) -> str:
    c = get(dclient, name)
    if c is None or c.status != "running":
        return ""
    code, out = c.exec_run(["cat", "/run/secrets/token"])
    return out.decode() if code == 0 else ""


def test_an_edit_of_a_secret_file_starts_a_pass_that_places_it(
        spec_dir: Path, project_name: str, dclient: Any,
        start_service: Callable[..., Service]) -> None:
    web = f"{project_name}-web"
    (spec_dir / "token").write_text("tok-one-5e1f\n")
    (spec_dir / "web.toml").write_text(
        container_toml(web, extra='secrets = { token = { file = "token" } }\n'))
    svc = start_service(["--project", project_name, "watch", str(spec_dir), "--resync", "0"])
    svc.wait_ready()
    wait_for(lambda: _secret(dclient, web) == "tok-one-5e1f\n", "the first token in place")
    (spec_dir / "token").write_text("tok-two-77c2\n")
    wait_for(lambda: _secret(dclient, web) == "tok-two-77c2\n", "the second token in place")
    logged = " ".join(str(event) for event in svc.logged("action"))
    assert "secrets.token changed" in logged
    assert "tok-one" not in logged and "tok-two" not in logged
