"""Issue 3, behaviour 5: an invalid spec file freezes only the resources it declared.

The frozen container keeps running unchanged (not updated, not pruned), even
after an edit in its file; the other files still converge; the error is
printed with its file and line; the exit code is 1.
"""

from __future__ import annotations

import pytest

from .conftest import IMAGE, LOOP, Project, env_of, loop_container

pytestmark = pytest.mark.docker


def _container(name: str, version: str, extra: str = "") -> str:
    # Line numbers matter: the error below is on line 6 of its file.
    return (f"[container.{name}]\n"          # 1
            f'image = "{IMAGE}"\n'           # 2
            f"command = {LOOP}\n"            # 3
            'stop_timeout = "1s"\n'          # 4
            f'env = {{ V = "{version}" }}\n'  # 5
            f"{extra}")                      # 6


def _setup(p: Project) -> dict[str, str]:
    p.write("a.toml", _container(p.n("a"), "1"))
    p.write("b.toml", _container(p.n("b"), "1"))
    p.apply_ok()
    return p.ids()


def _edit_both(p: Project, a_extra: str) -> None:
    """Version 2 everywhere: ``a.toml`` made invalid by ``a_extra`` (on its line 6),
    ``b.toml`` valid and adding container ``c``."""
    p.write("a.toml", _container(p.n("a"), "2", a_extra))
    p.write("b.toml", _container(p.n("b"), "2") + "\n" + loop_container(p.n("c")))


def _check_frozen_and_rest_converged(p: Project, ids: dict[str, str], run_text: str) -> None:
    a = p.container("a")
    assert a.id == ids[p.n("a")], f"the invalid file's container must not be touched\n{run_text}"
    assert a.status == "running"
    assert env_of(a)["V"] == "1", "the frozen container keeps its old configuration"
    b = p.container("b")
    assert b.id != ids[p.n("b")] and env_of(b)["V"] == "2", f"valid files converge\n{run_text}"
    assert p.exists("c"), f"a container added in a valid file is created\n{run_text}"


def test_invalid_file_freezes_only_its_resources(project: Project) -> None:
    p = project
    ids = _setup(p)
    _edit_both(p, 'enviroment = { X = "1" }\n')
    diff = p.diff()
    assert diff.code == 1, f"diff with an invalid file exits 1\n{diff}"
    assert "a.toml:6" in diff.text, f"the error names file and line\n{diff}"
    run = p.apply()
    assert run.code == 1, f"apply with an invalid file exits 1\n{run}"
    assert "a.toml:6" in run.text, f"the error names file and line\n{run}"
    assert "enviroment" in run.text
    _check_frozen_and_rest_converged(p, ids, str(run))
    # Fixed again: the frozen container converges now.
    p.write("a.toml", _container(p.n("a"), "2"))
    p.apply_ok()
    assert env_of(p.container("a"))["V"] == "2"
    assert p.diff().code == 0


def test_toml_syntax_error_freezes_and_prunes_nothing(project: Project) -> None:
    p = project
    ids = _setup(p)
    _edit_both(p, "broken = [1, 2\n")
    run = p.apply()
    assert run.code == 1, f"apply with a syntax error exits 1\n{run}"
    assert "a.toml:" in run.text, f"the error names the file and line\n{run}"
    _check_frozen_and_rest_converged(p, ids, str(run))


def test_invalid_value_in_resource_freezes_it(project: Project) -> None:
    p = project
    ids = _setup(p)
    # A bad value inside the container's own table (not only an unknown key).
    _edit_both(p, 'ports = ["not-a-port"]\n')
    run = p.apply()
    assert run.code == 1, str(run)
    assert "a.toml:6" in run.text, f"the error names file and line\n{run}"
    _check_frozen_and_rest_converged(p, ids, str(run))
