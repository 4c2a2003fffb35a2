"""The watch service following a git repository: a local bare repository over
a file:// URL, a commit, ``POST /hooks/git``, and the new revision converged
and recorded (container label, ``/status``, logs). No network needed.

Neighbours: ``controller.service.gitsource``, ``controller.service.httpd``; helpers in
``tests/watch/helpers.py``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runtime.types import LABEL_REVISION
from tests.conftest import wait_for
from tests.watch.helpers import Service, container_toml, get

pytestmark = pytest.mark.docker

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                          text=True, env=dict(os.environ, **GIT_ENV)).stdout.strip()


def test_git_source_hook_converges_new_revision(
        tmp_path: Path, project_name: str, dclient: Any,
        start_service: Callable[..., Service]) -> None:
    bare, work = tmp_path / "origin.git", tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    web = f"{project_name}-web"
    (work / "deploy").mkdir()
    (work / "deploy" / "web.toml").write_text(container_toml(web, env={"V": "1"}))
    git(work, "add", ".")
    git(work, "commit", "-qm", "v1")
    git(work, "push", "-q", str(bare), "main")
    rev1 = git(work, "rev-parse", "HEAD")

    svc = start_service(["--project", project_name, "watch", "--git", f"file://{bare}",
                         "--branch", "main", "--path", "deploy", "--interval", "1h",
                         "--cache-dir", str(tmp_path / "cache")])
    svc.wait_ready()
    c = wait_for(lambda: (x := get(dclient, web)) and x.status == "running" and x,
                 "web running")
    assert c.labels[LABEL_REVISION] == rev1
    assert svc.wait_event("git_revision", revision=rev1)

    (work / "deploy" / "web.toml").write_text(container_toml(web, env={"V": "2"}))
    git(work, "commit", "-qam", "v2")
    git(work, "push", "-q", str(bare), "main")
    rev2 = git(work, "rev-parse", "HEAD")
    code, body = svc.http("/hooks/git", method="POST")
    assert code == 202, body
    new = wait_for(lambda: (x := get(dclient, web)) and x.status == "running"
                   and x.labels.get(LABEL_REVISION) == rev2 and x, "web at the new revision")
    assert "V=2" in new.attrs["Config"]["Env"]
    svc.wait_event("pass", revision=rev2)
    status = svc.json("/status")
    assert status["watch"]["revision"] == rev2
    assert status["watch"]["git"]["last_error"] is None
    assert svc.http("/nope")[0] == 404

    # the remote goes away: the failure is logged, the last good revision stays
    bare.rename(tmp_path / "moved.git")
    assert svc.http("/hooks/git", method="POST")[0] == 202
    failed = svc.wait_event("git_fetch_failed")
    assert failed["revision"] == rev2 and failed["retry_in"] >= 1
    status = svc.json("/status")
    assert status["watch"]["revision"] == rev2 and status["watch"]["git"]["last_error"]
    still = get(dclient, web)
    assert still is not None and still.id == new.id and still.status == "running"
    assert svc.terminate() == 0
