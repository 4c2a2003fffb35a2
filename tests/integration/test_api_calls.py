"""Issue 3 and issue 9, runtime layer: observing a project costs a constant number of list
calls plus one inspect per declared container.

Counts the Docker API requests of a whole ``dockwright diff`` process with
``bench/apicount.py`` (a wrapper around ``requests.Session.send``): a no-op
diff inspects each container exactly once (live drift shows in no label) and
nothing else grows with the number of containers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, Project, loop_container

pytestmark = pytest.mark.docker


def counted_cli(args: list[str], tmp_path: Path) -> tuple[int, dict[str, int]]:
    out = tmp_path / f"calls-{len(list(tmp_path.iterdir()))}.json"
    env = dict(os.environ, DW_APICOUNT_FILE=str(out),
               PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "bench")]))
    boot = "import sys, apicount; apicount.run_module_counted('controller.cli', sys.argv[1:])"
    proc = subprocess.run([sys.executable, "-c", boot, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    calls: dict[str, int] = json.loads(out.read_text())
    return proc.returncode, calls


def test_noop_diff_calls_are_lists_plus_one_inspect_per_container(project: Project,
                                                                  tmp_path: Path) -> None:
    """What can change on a live container changes no label, so every declared container is
    inspected once per pass (in parallel); everything else stays constant."""
    p = project
    p.write("a.toml", "".join(loop_container(p.n(f"c{i}")) for i in range(2)))
    p.apply_ok()
    code, small = counted_cli(["--project", p.name, "diff", str(p.dir)], tmp_path)
    assert code == 0, small
    p.write("a.toml", "".join(loop_container(p.n(f"c{i}")) for i in range(8)))
    p.apply_ok()
    code, large = counted_cli(["--project", p.name, "diff", str(p.dir)], tmp_path)
    assert code == 0, large
    assert small.get("GET /containers/{id}/json") == 2, small
    assert large.get("GET /containers/{id}/json") == 8, large
    assert sum(large.values()) - 8 == sum(small.values()) - 2, (small, large)
