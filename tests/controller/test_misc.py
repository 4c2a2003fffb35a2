"""Small parts: project naming, git revision, logging setup, rendering, the down plan."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from controller import logging as dwlog
from controller.commands.render import render_plan
from controller.desired.gitrev import revision
from controller.desired.naming import instance_names, project_name, sanitise_project
from controller.planning.observe import observe
from controller.planning.plan import Kind, plan_down
from tests.controller.helpers import container, converge, fake, plan_of, write


def test_project_names() -> None:
    assert sanitise_project("My App.v2") == "myappv2"
    assert sanitise_project("__x") == "x"
    assert project_name(Path("/srv/Web_Stack"), None, None) == "web_stack"
    assert project_name(Path("/srv/x"), None, "Override") == "override"
    assert instance_names("web", 1) == ["web"]
    assert instance_names("web", 2) == ["web-1", "web-2"]


def test_git_revision_and_dirty_flag(tmp_path: Path) -> None:
    assert revision(tmp_path) is None
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)
    git("init", "-q")
    (tmp_path / "a.toml").write_text("")
    git("add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x")
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    assert revision(tmp_path) == head
    (tmp_path / "a.toml").write_text("# changed\n")
    assert revision(tmp_path) == f"{head}-dirty"


def test_json_logs_carry_bound_context(capsys: pytest.CaptureFixture[str]) -> None:
    import structlog

    dwlog.setup("json")
    try:
        dwlog.get_logger(reconcile_id="r1", project="p").info("pass", changed=True)
    finally:
        structlog.reset_defaults()
    line = capsys.readouterr().err.strip().splitlines()[-1]
    event = json.loads(line)
    assert (event["event"], event["reconcile_id"], event["project"], event["changed"]) == \
        ("pass", "r1", "p", True)


def test_text_rendering_and_revision_label(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.toml": container("aa", 'env = { K = "1" }')})
    driver = fake()
    converge(root, driver)
    labels = dict(next(iter(driver.containers.values())).config.labels)
    assert labels["io.dockwright.revision"] == "rev1"
    assert labels["io.dockwright.source"] == "a.toml"
    write(root, {"a.toml": container("aa", 'env = { K = "2" }')})
    text = render_plan(plan_of(root, driver))
    assert "~ recreate       container aa: env.K changed" in text
    assert "env.K: 1 -> 2" in text
    assert text.endswith("plan: 1 recreate")


def test_down_removes_containers_and_networks_keeps_volumes(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.toml": '[volume.vv]\n' + container("aa", 'volumes = ["vv:/v"]')})
    driver = fake()
    converge(root, driver)
    from controller.desired.state import DesiredState

    plan = plan_down(observe(driver, DesiredState("t", None)))
    assert sorted((a.kind, a.name) for a in plan.actions) == sorted([
        (Kind.REMOVE, "aa"), (Kind.REMOVE_NETWORK, "t_default"), (Kind.KEEP_VOLUME, "vv")])
    assert plan_down(observe(driver, DesiredState("other", None))).actions == ()


def test_describe_is_one_line_with_the_hint_last() -> None:
    from controller.errors import ControllerError, describe
    from runtime.errors import Unavailable

    try:
        try:
            raise ConnectionError("('Connection aborted.', FileNotFoundError(2, 'x'))")
        except ConnectionError as exc:
            raise Unavailable("cannot connect to the Docker daemon at unix:///x: No such file",
                              hint="is the Docker daemon running?") from exc
    except Unavailable as exc:
        text = describe(exc)
    assert text == ("cannot connect to the Docker daemon at unix:///x: No such file — "
                    "is the Docker daemon running?")
    assert describe(ControllerError("no container named 'x'")) == "no container named 'x'"
    try:
        try:
            raise KeyError("k")
        except KeyError as exc:
            raise ValueError("outer") from exc
    except ValueError as exc:
        assert describe(exc) == "outer (caused by KeyError: 'k')"


def test_cli_errors_before_any_runtime_call_exit_1(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A missing spec dir, a file instead of a dir, a usage error: exit 1, never 2."""
    from controller.cli import main

    spec_file = write(tmp_path, {"a.toml": container("web")}) / "a.toml"
    missing = tmp_path / "nope"
    for argv in (["diff", str(missing)], ["apply", str(missing)], ["status", str(missing)],
                 ["apply", "--dry-run", str(missing)]):
        assert main(argv) == 1, argv
        assert capsys.readouterr().err == (f"dockwright: error: the spec directory {missing} "
                                           "does not exist — pass the folder that holds the "
                                           "*.toml files\n")
    assert main(["apply", str(spec_file)]) == 1
    assert capsys.readouterr().err == (f"dockwright: error: {spec_file} is a file, not a spec "
                                       "directory — pass the folder that holds the *.toml "
                                       f"files: {tmp_path}\n")
    assert main(["validate", str(spec_file)]) == 1
    assert "this is a file, not a spec directory" in capsys.readouterr().out
    assert main(["apply", str(tmp_path), "--concurrency", "0"]) == 1
    assert "--concurrency 0 is not allowed" in capsys.readouterr().err
    assert main(["diff", "--no-such-option", str(tmp_path)]) == 1
    assert "unrecognized arguments" in capsys.readouterr().err
