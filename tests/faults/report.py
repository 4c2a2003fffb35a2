"""Run the fault campaign and print its table (``--markdown``: as the README shows it).

Role: ``python -m tests.faults.report [--markdown] [pytest args]`` runs
``tests/faults`` with pytest (``DW_FAULT_POINTS`` widens each sweep: more kill
points per pass), then prints the table the cases recorded
(``tests/faults/table.py``). Exits with pytest's status.
Neighbours: ``tests/faults/conftest.py`` (writes the rows), ``README.md``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.faults.table import markdown, render

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str]) -> int:
    as_markdown = "--markdown" in argv
    extra = [a for a in argv if a != "--markdown"]
    with tempfile.TemporaryDirectory(prefix="dw-faults-") as tmp:
        out = Path(tmp) / "table.json"
        code = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
             str(ROOT / "tests" / "faults"), *extra],
            cwd=ROOT, env={**os.environ, "DW_FAULT_TABLE": str(out)}, check=False).returncode
        if out.exists():
            rows = json.loads(out.read_text())
            print(markdown(rows) if as_markdown else render(rows))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
