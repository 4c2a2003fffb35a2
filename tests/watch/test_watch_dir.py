"""The watched directory and the runtime events that wake ``dockwright watch``.

The real service (a subprocess, ``--resync 0`` so that only file and runtime
events can start a pass) against the real Docker daemon:

- a spec directory that is a symlink swapped atomically (``mv -T``, as git-sync
  and Kubernetes config mounts do) is followed: the new target is applied and
  watched, an edit of the detached old target is not deployed;
- a directory removed and made again is watched again (no resync needed), and
  while it is missing every container keeps running and ``/status`` says so;
- writes to files that are neither spec files nor referenced by one (a log
  file, ``.git`` internals) start no pass; an edit of a referenced env file does;
- ``docker update``, ``docker pause`` and ``docker network disconnect`` of a
  managed container start a pass (trigger ``runtime``) that heals it.

Neighbours: ``controller.service.triggers`` (``SpecWatcher``, ``EventWatcher``),
``runtime.docker.events``, ``tests/watch/helpers.py``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.watch.helpers import Service, container_toml, get

pytestmark = pytest.mark.docker


def _env(dclient: Any, name: str) -> list[str]:
    c = get(dclient, name)
    return list(c.attrs["Config"]["Env"] or []) if c is not None else []


def _swap(link: Path, target: Path) -> None:
    """``ln -sfn target tmp && mv -T tmp link``: one atomic rename."""
    tmp = link.with_name(f".{link.name}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    os.replace(tmp, link)


def _file_passes(svc: Service) -> int:
    return sum(1 for p in svc.logged("pass") if "files" in p.get("triggers", []))


def test_a_swapped_symlink_is_followed_and_the_old_target_ignored(
        tmp_path: Path, project_name: str, dclient: Any,
        start_service: Callable[..., Service]) -> None:
    web = f"{project_name}-web"
    v1, v2, link = tmp_path / "rev1", tmp_path / "rev2", tmp_path / "current"
    for folder, value in ((v1, "1"), (v2, "2")):
        folder.mkdir()
        (folder / "web.toml").write_text(container_toml(web, env={"A": value}))
    link.symlink_to(v1)
    svc = start_service(["--project", project_name, "watch", str(link), "--resync", "0"])
    svc.wait_ready()
    wait_for(lambda: "A=1" in _env(dclient, web), "web with A=1")

    _swap(link, v2)
    wait_for(lambda: "A=2" in _env(dclient, web), "web with A=2 after the swap")
    svc.wait_event("spec_dir_rearmed", pred=lambda e: e.get("target") == str(v2))
    svc.wait_event("pass", pred=lambda e: "files" in e["triggers"] and e["changed"])

    # the detached old target is no longer the spec: its edit is not deployed
    time.sleep(0.5)  # past the debounce of the swap itself
    settled = _file_passes(svc)
    (v1 / "web.toml").write_text(container_toml(web, env={"A": "3"}))
    time.sleep(2.0)
    assert "A=2" in _env(dclient, web)
    assert _file_passes(svc) == settled, "an edit of the old target started a pass"

    # the new target is watched
    (v2 / "web.toml").write_text(container_toml(web, env={"A": "4"}))
    wait_for(lambda: "A=4" in _env(dclient, web), "web with A=4 (edit of the new target)")


def test_a_directory_removed_and_made_again_is_watched_again(
        spec_dir: Path, project_name: str, dclient: Any,
        start_service: Callable[..., Service]) -> None:
    web = f"{project_name}-web"
    (spec_dir / "web.toml").write_text(container_toml(web, env={"A": "1"}))
    svc = start_service(["--project", project_name, "watch", str(spec_dir), "--resync", "0"])
    svc.wait_ready()
    first = wait_for(lambda: "A=1" in _env(dclient, web) and get(dclient, web), "web A=1")

    for path in spec_dir.iterdir():
        path.unlink()
    spec_dir.rmdir()
    svc.wait_event("spec_dir_missing")
    status = svc.json("/status")
    assert status["watch"]["spec_dir_missing"] is True
    assert status.get("in_sync") is not True
    running = get(dclient, web)
    assert running is not None and running.id == first.id and running.status == "running"

    spec_dir.mkdir()
    (spec_dir / "web.toml").write_text(container_toml(web, env={"A": "2"}))
    wait_for(lambda: "A=2" in _env(dclient, web), "web with A=2 after the directory came back")
    wait_for(lambda: svc.json("/status")["watch"]["spec_dir_missing"] is False,
             "status no longer says missing")
    # and file events keep arriving for the new directory
    (spec_dir / "web.toml").write_text(container_toml(web, env={"A": "3"}))
    wait_for(lambda: "A=3" in _env(dclient, web), "web with A=3 (an edit in the new directory)")


def test_only_spec_and_referenced_files_start_a_pass(
        spec_dir: Path, project_name: str, dclient: Any,
        start_service: Callable[..., Service]) -> None:
    web = f"{project_name}-web"
    (spec_dir / "web.env").write_text("B=1\n")
    (spec_dir / "web.toml").write_text(
        container_toml(web, extra='env_file = ["web.env"]\n'))
    svc = start_service(["--project", project_name, "watch", str(spec_dir), "--resync", "0"])
    svc.wait_ready()
    wait_for(lambda: "B=1" in _env(dclient, web), "web with B=1")
    svc.wait_event("pass")
    time.sleep(0.5)
    before = _file_passes(svc)

    # a log file and git internals written for 3 s: no pass at all
    log_file = spec_dir / "app.log"
    git_dir = spec_dir / ".git" / "objects"
    git_dir.mkdir(parents=True)
    deadline = time.monotonic() + 3.0
    n = 0
    while time.monotonic() < deadline:
        with log_file.open("a") as handle:
            handle.write(f"line {n}\n")
        (git_dir / f"obj{n % 5}").write_text(str(n))
        n += 1
        time.sleep(0.02)
    time.sleep(1.0)  # past the debounce
    assert _file_passes(svc) == before, f"{n} writes to non-spec files started passes"

    # the referenced env file does
    (spec_dir / "web.env").write_text("B=2\n")
    wait_for(lambda: "B=2" in _env(dclient, web), "web with B=2 (env file edit)")
    wait_for(lambda: _file_passes(svc) > before, "a pass triggered by the env file")


def test_runtime_changes_by_hand_start_a_pass_that_heals_them(
        spec_dir: Path, project_name: str, dclient: Any,
        start_service: Callable[..., Service]) -> None:
    web = f"{project_name}-web"
    (spec_dir / "web.toml").write_text(container_toml(
        web, extra='restart = "always"\nresources = { memory = "64m" }\n'))
    svc = start_service(["--project", project_name, "watch", str(spec_dir), "--resync", "0"])
    svc.wait_ready()
    first = wait_for(lambda: (c := get(dclient, web)) and c.status == "running" and c,
                     "web running")
    network = f"{project_name}_default"

    def runtime_passes() -> int:
        return sum(1 for p in svc.logged("pass") if "runtime" in p.get("triggers", []))

    def healed(check: Callable[[Any], bool], what: str, mark: int) -> None:
        wait_for(lambda: (c := get(dclient, web)) is not None and check(c), what)
        wait_for(lambda: runtime_passes() > mark, f"a pass started by the runtime ({what})")

    mark = runtime_passes()
    first.update(restart_policy={"Name": "no"})
    healed(lambda c: c.attrs["HostConfig"]["RestartPolicy"]["Name"] == "always",
           "restart policy healed after docker update", mark)

    mark = runtime_passes()
    dclient.networks.get(network).disconnect(web)
    healed(lambda c: network in c.attrs["NetworkSettings"]["Networks"],
           "network membership healed after docker network disconnect", mark)

    mark = runtime_passes()
    first.pause()
    healed(lambda c: c.status == "running", "unpaused after docker pause", mark)
    assert get(dclient, web).id == first.id, "healed in place, not recreated"
