"""Hostile spec files on the real daemon: refused, located, and confined to their file.

A file of deeply nested arrays used to make every command fail with "maximum
recursion depth exceeded" (no file, no line); now it is one located error that
freezes that file's resources while the other files converge.
"""

from __future__ import annotations

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
