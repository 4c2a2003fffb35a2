"""Issue 3, runtime layer: observing a project costs a constant number of list calls.

Counts the Docker API requests of a whole ``dockwright diff`` process with
``bench/apicount.py`` (a wrapper around ``requests.Session.send``): a no-op
diff must not inspect containers one by one, and its number of calls must
not grow with the number of containers.
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


def test_noop_diff_calls_do_not_grow_with_containers(project: Project, tmp_path: Path) -> None:
    p = project
    p.write("a.toml", "".join(loop_container(p.n(f"c{i}")) for i in range(2)))
    p.apply_ok()
    code, small = counted_cli(["--project", p.name, "diff", str(p.dir)], tmp_path)
    assert code == 0, small
    p.write("a.toml", "".join(loop_container(p.n(f"c{i}")) for i in range(8)))
    p.apply_ok()
    code, large = counted_cli(["--project", p.name, "diff", str(p.dir)], tmp_path)
    assert code == 0, large
    assert sum(large.values()) == sum(small.values()), (small, large)
    assert not large.get("GET /containers/{id}/json"), \
        f"a no-op diff must not inspect containers one by one: {large}"
