"""The fault campaign's table, as plain text and as a Markdown table.

Role: turns the rows the cases recorded (``harness.Row`` as dicts) into the
table printed after the run (``tests/faults/conftest.py``) and shown in the
README (``tests/faults/report.py --markdown``). Neighbours: ``harness.py``.
"""

from __future__ import annotations

from typing import Any

HEAD = ("fault", "injected", "survived", "checksums kept", "longest with nothing running")


def _cells(rows: dict[str, dict[str, Any]]) -> list[tuple[str, ...]]:
    out = []
    total = {"injected": 0, "survived": 0, "sums_checked": 0, "sums_kept": 0, "max_gap": 0.0}
    for kind in sorted(rows):
        r = rows[kind]
        for key in ("injected", "survived", "sums_checked", "sums_kept"):
            total[key] += r[key]
        total["max_gap"] = max(total["max_gap"], r["max_gap"])
        out.append(_line(kind, r))
    out.append(_line("total", total))
    return out


def _line(kind: str, r: dict[str, Any]) -> tuple[str, ...]:
    sums = f"{r['sums_kept']}/{r['sums_checked']}" if r["sums_checked"] else "-"
    return (kind, str(r["injected"]), str(r["survived"]), sums, f"{r['max_gap']:.2f} s")


def render(rows: dict[str, dict[str, Any]]) -> str:
    lines = [HEAD, *_cells(rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEAD))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True))
                     for line in lines)


def markdown(rows: dict[str, dict[str, Any]]) -> str:
    lines = [HEAD, tuple("---" for _ in HEAD), *_cells(rows)]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)
