"""``dockwright validate`` and ``dockwright schema`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from controller.cli import main

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "specs"


def test_valid_directory_exits_0_and_prints_no_problem(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(FIXTURES / "valid" / "full")]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "valid (2 files, 2 containers, 2 volumes, 2 networks)" in err


def test_invalid_directory_exits_1_with_one_line_per_problem(
        capsys: pytest.CaptureFixture[str]) -> None:
    case = FIXTURES / "invalid" / "references"
    assert main(["validate", str(case)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == (case / "expected.txt").read_text().splitlines()
    assert err.strip() == "7 problems in 1 file"


def test_all_files_are_reported_in_one_run(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('[container.aa]\nimage = "busybox"\nport = ["80"]\n')
    (tmp_path / "b.toml").write_text('[container.bb]\nimage = "busybox"\nlinks = ["xx"]\n')
    (tmp_path / "c.toml").write_text('[container.c\n')
    assert main(["validate", str(tmp_path)]) == 1
    out, _ = capsys.readouterr()
    assert {line.split(":")[0] for line in out.splitlines()} == {"a.toml", "b.toml", "c.toml"}


def test_a_problem_between_two_files_is_one_line_naming_both(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(FIXTURES / "invalid" / "duplicates")]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "a.toml:1: project: [project] is declared more than once: also in b.toml:1 — keep one "
        "[project] table per spec directory",
        "a.toml:4: container.web: container 'web' is declared more than once: also in "
        "b.toml:6 — rename one of them or remove the duplicate",
        "a.toml:7: volume.data: volume 'data' is declared more than once: also in b.toml:4 — "
        "rename one of them or remove the duplicate",
    ]
    assert err.strip() == "3 problems in 1 file"


def test_json_output_is_a_list_for_ci_annotations(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--output", "json", str(FIXTURES / "invalid" / "unknown-keys")]) == 1
    items = json.loads(capsys.readouterr().out)
    assert len(items) == 8
    assert items[0] == {"file": "web.toml", "line": 3, "key": "container.web.enviroment",
                        "message": "unknown key 'enviroment' in container.web",
                        "hint": "did you mean 'env'?", "severity": "error"}
    assert main(["validate", "-o", "json", str(FIXTURES / "valid" / "full")]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_missing_directory_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "absent")]) == 1
    assert "the spec directory does not exist" in capsys.readouterr().out


def test_schema_command_prints_the_committed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    committed = (ROOT / "schema" / "dockwright.schema.json").read_text(encoding="utf-8")
    assert printed == committed, "run: dockwright schema > schema/dockwright.schema.json"


def test_validate_process_stays_lean() -> None:
    """No Docker SDK or pyroute2 import on the validate path (start-up time)."""
    code = (
        "import sys\n"
        "from controller.cli import main\n"
        f"rc = main(['validate', {str(FIXTURES / 'valid' / 'full')!r}])\n"
        "heavy = sorted(m for m in ('docker', 'pyroute2', 'watchdog') if m in sys.modules)\n"
        "print(rc, heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=True, env={"PATH": "/usr/bin:/bin"})
    assert proc.stdout.strip() == "0 []"


ENTRY = ("import atexit, sys\n"
         "atexit.register(lambda: print('exit handler ran'))\n"
         "sys.argv = ['dockwright', *sys.argv[1:]]\n"
         "from controller.cli import entry\n"
         "entry()\n")


@pytest.mark.parametrize(("case", "code"), [("valid/full", 0), ("invalid/references", 1)])
def test_the_console_script_keeps_exit_code_output_and_exit_handlers(case: str,
                                                                     code: int) -> None:
    """``entry`` skips the interpreter's tear-down, not the exit handlers or the output."""
    proc = subprocess.run([sys.executable, "-c", ENTRY, "validate", str(FIXTURES / case)],
                          capture_output=True, text=True, timeout=60, check=False,
                          cwd=ROOT)
    assert proc.returncode == code, proc.stderr
    assert proc.stdout.endswith("exit handler ran\n"), proc.stdout
    assert ("valid (" in proc.stderr) if code == 0 else ("problems in 1 file" in proc.stderr)
