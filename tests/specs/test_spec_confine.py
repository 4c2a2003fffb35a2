"""Paths a spec reads from the host stay in its directory (or git checkout) unless
``[project] allow_host_paths`` lets them out; sensitive bind mounts are warned
about (errors in git mode). Symlinks are followed before the check, at load
time, on a snapshot hit, and again on the file actually opened when the
controller reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from controller.cli import main
from controller.desired.specload import recipe_of
from controller.desired.state import realise
from specs.loader import load_dir

IMAGE = 'image = "busybox"\n'


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """tmp/outside/secret (the host), tmp/repo/specs/ (the spec directory)."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("host-only\n")
    (tmp_path / "repo" / "specs" / "secrets").mkdir(parents=True)
    (tmp_path / "repo" / "specs" / "secrets" / "pw").write_text("fine\n")
    (tmp_path / "repo" / "shared.env").write_text("A=1\n")
    (tmp_path / "repo" / ".git").mkdir()
    (tmp_path / "repo" / ".git" / "config").write_text("url = https://token@host/x\n")
    return tmp_path


def _write(root: Path, body: str, project: str = "") -> None:
    (root / "web.toml").write_text(f"{project}[container.web]\n{IMAGE}{body}\n")


def _lines(root: Path, **kwargs: Path) -> list[str]:
    specs = load_dir(root, environ={}, **kwargs)
    found = [*specs.all_errors(), *specs.warnings]
    return [e.format() for e in sorted(found, key=lambda e: (e.line or 0, e.key_path))]


def test_a_secret_outside_the_spec_directory_is_refused(layout: Path) -> None:
    root = layout / "repo" / "specs"
    _write(root, 'env = { PW = { file = "../../outside/secret" } }')
    assert _lines(root) == [
        "web.toml:3: container.web.env.PW.file: secret file '../../outside/secret' is outside "
        f"the spec directory (it leads to {layout}/outside/secret) — keep it inside the spec "
        f"directory, or allow the host folder with [project] allow_host_paths = "
        f"[\"{layout}/outside\"]"]


def test_a_symlink_inside_pointing_out_is_refused(layout: Path) -> None:
    root = layout / "repo" / "specs"
    os.symlink(layout / "outside" / "secret", root / "secrets" / "link")
    _write(root, 'env_file = ["secrets/link"]\nenv = { PW = { file = "secrets/pw" } }')
    [line] = _lines(root)
    assert line.startswith("web.toml:3: container.web.env_file[0]: env file ")
    assert "is outside the spec directory" in line


@pytest.mark.parametrize("body", [
    'image = { build = "../../outside" }', 'image = { archive = "/etc/hostname" }',
    'image = { build = ".", dockerfile = "../../outside/secret" }'])
def test_build_contexts_dockerfiles_and_archives_are_confined(layout: Path, body: str) -> None:
    root = layout / "repo" / "specs"
    (root / "web.toml").write_text(f"[container.web]\n{body}\n")
    assert any("is outside the spec directory" in line for line in _lines(root))


def test_allow_host_paths_lets_a_host_folder_in(layout: Path) -> None:
    root = layout / "repo" / "specs"
    _write(root, 'env = { PW = { file = "../../outside/secret" } }',
           f'[project]\nallow_host_paths = ["{layout}/outside"]\n\n')
    assert _lines(root) == []


def test_allow_host_paths_start_at_the_declaring_file(layout: Path) -> None:
    root = layout / "repo" / "specs"
    _write(root, 'env = { PW = { file = "../../outside/secret" } }',
           '[project]\nallow_host_paths = ["../../outside"]\n\n')
    assert _lines(root) == []


def test_git_mode_confines_to_the_checkout_without_its_git_folder(layout: Path) -> None:
    root = layout / "repo" / "specs"
    _write(root, 'env_file = ["../shared.env"]')
    assert [line for line in _lines(root) if "outside" in line], "outside the spec directory"
    assert _lines(root, checkout=layout / "repo") == [], "inside the checkout"
    _write(root, 'env = { T = { file = "../.git/config" } }')
    [line] = _lines(root, checkout=layout / "repo")
    assert "is outside the git checkout" in line


@pytest.mark.parametrize("source", [
    "/", "/etc", "/etc/ssl", "/proc", "/sys/fs", "/dev", "/boot", "/root", "/var",
    "/var/lib/docker", "/var/run/docker.sock", "/run/docker.sock"])
def test_sensitive_bind_mounts_warn_and_fail_in_git_mode(layout: Path, source: str) -> None:
    root = layout / "repo" / "specs"
    _write(root, f'volumes = ["{source}:/host:ro"]')
    [warning] = _lines(root)
    assert warning.startswith("web.toml:3: container.web.volumes[0]: warning: bind mount of")
    [error] = _lines(root, checkout=layout / "repo")
    assert "a commit to the watched repository may not do that" in error
    assert "warning" not in error
    real = os.path.realpath(source)
    _write(root, f'volumes = ["{source}:/host:ro"]',
           f'[project]\nallow_host_paths = ["{real}"]\n\n')
    assert _lines(root, checkout=layout / "repo") == []


@pytest.mark.parametrize("source", ["/srv/data", "/opt/app", "/home/someone/app", "./secrets"])
def test_ordinary_bind_mounts_stay_as_they_were(layout: Path, source: str) -> None:
    root = layout / "repo" / "specs"
    _write(root, f'volumes = ["{source}:/data"]')
    assert _lines(root) == [] and _lines(root, checkout=layout / "repo") == []


def test_validate_exits_0_with_warnings_only(layout: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    root = layout / "repo" / "specs"
    _write(root, 'volumes = ["/var/run/docker.sock:/var/run/docker.sock"]')
    assert main(["validate", str(root)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("web.toml:3: container.web.volumes[0]: warning: bind mount of "
                          "/var/run/docker.sock")
    assert "valid (1 file, 1 container, 0 volumes, 0 networks), 1 warning" in err


def test_a_link_swapped_after_a_snapshot_is_caught_on_the_next_run(
        layout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKWRIGHT_CACHE_DIR", str(layout / "cache"))
    monkeypatch.delenv("DOCKWRIGHT_NO_CACHE", raising=False)
    root = layout / "repo" / "specs"
    pw = root / "secrets" / "pw"
    _write(root, f'env = {{ PW = {{ file = "{pw}" }} }}')
    specs, _ = recipe_of(root)
    assert specs.ok and recipe_of(root)[0].summary, "a snapshot hit"
    pw.unlink()
    os.symlink(layout / "outside" / "secret", pw)
    again, recipe = recipe_of(root)
    assert not again.summary and not again.ok, "the snapshot must not be used"
    assert recipe.containers == ()


def test_a_link_swapped_after_loading_is_refused_when_read(layout: Path) -> None:
    root = layout / "repo" / "specs"
    pw = root / "secrets" / "pw"
    _write(root, 'env = { PW = { file = "secrets/pw" } }')
    specs, recipe = recipe_of(root)
    assert specs.ok
    assert dict(realise(recipe).containers[0].config.env)["PW"] == "fine"
    pw.unlink()  # swapped between the check and the read
    os.symlink(layout / "outside" / "secret", pw)
    state = realise(recipe)
    assert not state.containers
    [(resource, message)] = state.errors
    assert resource == "web" and "outside the spec directory" in message


def test_binds_of_the_specs_own_files_are_fine_even_below_etc(tmp_path: Path) -> None:
    """Specs kept in /etc/dockwright bind-mount their own ./conf: not "the host's /etc";
    a link there leading out of the spec directory still counts."""
    from specs.confine import Bounds, check_binds

    found: list[str] = []
    bounds = Bounds("/etc/dockwright/app")
    check_binds([(("volumes", 0), "/etc/dockwright/app/conf")], bounds,
                lambda *a: found.append("error"), lambda *a: found.append("warning"))
    assert found == []
    check_binds([(("volumes", 0), "/etc/ssl")], bounds,
                lambda *a: found.append("error"), lambda *a: found.append("warning"))
    assert found == ["warning"]
    check_binds([(("volumes", 0), "/etc/dockwright/app/conf")], Bounds("/etc"),
                lambda *a: found.append("error"), lambda *a: found.append("warning"))
    assert found == ["warning", "warning"], "a spec directory that is /etc itself: no exemption"
    check_binds([(("volumes", 0), "/var/lib/docker")], Bounds("/var"),
                lambda *a: found.append("error"), lambda *a: found.append("warning"))
    assert found == ["warning"] * 3, "a spec directory holding /var/lib/docker: no exemption"
