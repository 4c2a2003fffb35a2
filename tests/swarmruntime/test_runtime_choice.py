"""Which runtime a command is for: ``--runtime``, else ``$DOCKWRIGHT_RUNTIME``, else the
spec directory's ``[project] runtime``, else docker; the Swarm keys are checked for it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from controller.cli import resolve_runtime
from specs.files import declared_runtime
from specs.loader import load_dir


def folder(tmp_path: Path, project: str = '[project]\nruntime = "swarm"\n') -> Path:
    (tmp_path / "a.toml").write_text(f'{project}[container.web]\nimage = "busybox"\n'
                                     'placement = { max_per_node = 1 }\n')
    return tmp_path


@pytest.mark.parametrize(("flag", "env", "project", "want"), [
    ("native", "docker", True, "native"),
    (None, "docker", True, "docker"),
    (None, None, True, "swarm"),
    (None, None, False, "docker"),
])
def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: str | None,
                    env: str | None, project: bool, want: str) -> None:
    root = folder(tmp_path, '[project]\nruntime = "swarm"\n' if project else "")
    if env:
        monkeypatch.setenv("DOCKWRIGHT_RUNTIME", env)
    else:
        monkeypatch.delenv("DOCKWRIGHT_RUNTIME", raising=False)
    assert resolve_runtime(argparse.Namespace(runtime=flag, dir=root)) == want


def test_the_project_runtime_decides_what_is_checked(tmp_path: Path) -> None:
    root = folder(tmp_path)
    assert declared_runtime(root) == "swarm"
    assert load_dir(root).ok  # for its own runtime
    errors = load_dir(root, runtime="docker").all_errors()
    assert [e.key_path for e in errors] == ["container.web.placement"]
    assert "only swarm supports it" in errors[0].message


def test_update_order_and_update_order_key_agree(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(
        '[container.web]\nimage = "busybox"\nupdate_order = "stop-first"\n'
        'update = { order = "start-first" }\n')
    errors = load_dir(tmp_path, runtime="swarm").all_errors()
    assert len(errors) == 1 and "disagree" in errors[0].message
