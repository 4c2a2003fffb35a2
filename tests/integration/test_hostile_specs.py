"""Hostile spec files on the real daemon: refused, located, and confined to their file.

A file of deeply nested arrays used to make every command fail with "maximum
recursion depth exceeded" (no file, no line); now it is one located error that
freezes that file's resources while the other files converge. A secret file
outside the spec directory used to be read into the container; now it is
refused unless ``[project] allow_host_paths`` names its folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import IMAGE, LOOP, Project, loop_container

pytestmark = pytest.mark.docker


def test_deeply_nested_file_is_located_and_only_it_is_frozen(project: Project) -> None:
    p = project
    p.write_project_file()
    p.write("a.toml", loop_container(p.n("a")))
    p.apply_ok()
    first = p.container("a").id
    p.write("a.toml", f'[container.{p.n("a")}]\nimage = "{IMAGE}"\ncommand = {LOOP}\n'
            f'labels = {{ v = "2" }}\nx = {"[" * 5000}{"]" * 5000}\n')
    p.write("b.toml", loop_container(p.n("b")))
    run = p.apply()
    assert run.code == 1, str(run)
    assert "recursion" not in run.text, str(run)
    assert (f"a.toml:5: container.{p.n('a')}.x: the value is nested more than 64 levels deep"
            in run.text), str(run)
    assert p.container("a").id == first, "the invalid file's container is left as it runs"
    assert p.container("b").status == "running", "the other files still converge"


def test_a_secret_outside_the_spec_directory_never_reaches_a_container(
        project: Project, tmp_path: Path) -> None:
    """``{ file = "../../x" }`` used to put any host file (``/etc/shadow``) into the
    container; now it is refused unless ``[project] allow_host_paths`` names its folder."""
    p = project
    host = tmp_path / "host-only"
    host.mkdir()
    (host / "shadow").write_text("root:$6$not-for-containers\n")
    p.write_project_file()
    rel = os.path.relpath(host / "shadow", p.dir)
    p.write("web.toml", loop_container(p.n("web"), env=f'{{ PW = {{ file = "{rel}" }} }}'))
    run = p.apply()
    assert run.code == 1, str(run)
    assert f"web.toml:5: container.{p.n('web')}.env.PW.file: secret file {rel!r} is outside " \
           "the spec directory" in run.text, str(run)
    assert not p.exists("web"), "nothing is created from a refused file"
    os.symlink(host / "shadow", p.dir / "link")  # a link inside the directory, pointing out
    p.write("web.toml", loop_container(p.n("web"), env='{ PW = { file = "link" } }'))
    run = p.apply()
    assert run.code == 1 and "is outside the spec directory" in run.text, str(run)
    assert not p.exists("web")
    p.write("project.toml", f'[project]\nname = "{p.name}"\nallow_host_paths = ["{host}"]\n'
            '[project.defaults]\nstop_timeout = "1s"\n')
    p.apply_ok()
    assert "PW=root:$6$not-for-containers" in p.container("web").attrs["Config"]["Env"]


def test_a_sensitive_bind_mount_is_a_warning_on_every_apply(project: Project) -> None:
    """Outside git mode a bind mount of /etc still works, with a located warning, on the
    first apply and on later ones served from the snapshot."""
    p = project
    p.write_project_file()
    p.write("web.toml", loop_container(p.n("web"), volumes='["/etc:/host-etc:ro"]'))
    line = (f"web.toml:5: container.{p.n('web')}.volumes[0]: warning: bind mount of /etc "
            "exposes the host's /etc to the container")
    for _ in range(2):
        run = p.apply_ok()
        assert line in run.err, str(run)
    assert p.container("web").status == "running"
    diff = p.diff()
    assert diff.code == 0 and line in diff.err, str(diff)
