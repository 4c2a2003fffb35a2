"""``watch --git``: a commit may not read the controller's host. Files the specs
read stay inside the checkout (its ``.git`` excluded) and bind mounts of the
host's sensitive places need ``[project] allow_host_paths``; the other files of
the commit still converge. Against the shared daemon, a local bare repository.

Neighbours: ``specs.confine``, ``controller.service.loop`` (passes the checkout);
helpers in ``tests/watch/helpers.py`` and ``tests/watch/test_git.py``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.watch.helpers import Service, container_toml, get
from tests.watch.test_git import git

pytestmark = pytest.mark.docker


def test_a_commit_cannot_read_host_files_or_mount_the_docker_socket(
        tmp_path: Path, project_name: str, dclient: Any,
        start_service: Callable[..., Service]) -> None:
    bare, work = tmp_path / "origin.git", tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (tmp_path / "host-secret").write_text("controller-only\n")
    (work / "deploy").mkdir()
    (work / "shared.env").write_text("SHARED=1\n")  # in the checkout, beside --path: fine
    web, steal, sock = (f"{project_name}-{n}" for n in ("web", "steal", "sock"))
    (work / "deploy" / "web.toml").write_text(
        container_toml(web, extra='env_file = ["../shared.env"]\n'))
    (work / "deploy" / "steal.toml").write_text(container_toml(
        steal, extra=f'env = {{ S = {{ file = "{tmp_path}/host-secret" }}, '
                     'G = { file = "../.git/config" } }\n'))
    (work / "deploy" / "sock.toml").write_text(container_toml(
        sock, extra='volumes = ["/var/run/docker.sock:/var/run/docker.sock"]\n'))
    git(work, "add", ".")
    git(work, "commit", "-qm", "v1")
    git(work, "push", "-q", str(bare), "main")

    svc = start_service(["--project", project_name, "watch", "--git", f"file://{bare}",
                         "--branch", "main", "--path", "deploy", "--interval", "1h",
                         "--cache-dir", str(tmp_path / "cache")])
    svc.wait_ready()
    c = wait_for(lambda: (x := get(dclient, web)) and x.status == "running" and x,
                 "web running")
    assert "SHARED=1" in c.attrs["Config"]["Env"]
    invalid = svc.wait_event("spec_invalid")
    text = "\n".join(invalid["errors"])
    assert f"steal.toml:5: container.{steal}.env.G.file: secret file '../.git/config' is " \
           "outside the git checkout" in text, text
    assert f"container.{steal}.env.S.file: secret file '{tmp_path}/host-secret' is outside " \
           "the git checkout" in text, text
    assert f"sock.toml:5: container.{sock}.volumes[0]: bind mount of /var/run/docker.sock" \
           in text and "a commit to the watched repository may not do that" in text, text
    assert get(dclient, steal) is None and get(dclient, sock) is None
    assert sorted(svc.json("/status")["watch"]["quarantined_files"]) == ["sock.toml",
                                                                          "steal.toml"]
    assert svc.terminate() == 0
