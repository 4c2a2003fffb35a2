"""``dockwright validate DIR`` and ``dockwright schema``.

Role: the CLI face of the spec layer. ``validate`` loads a spec directory and
prints every problem of every file, one per line
(``FILE:LINE: KEY.PATH: message — hint``; warnings as ``... KEY.PATH: warning:
message — hint``), or a JSON list for CI annotations, and exits 0 when valid
(warnings alone included), 1 otherwise. ``schema`` prints the JSON Schema of the
spec language. Neighbours: ``controller.cli`` (dispatch), ``specs.loader`` and
``specs.schema`` (imported inside the handlers so that start-up stays lean:
no Docker SDK, no pyroute2).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add ``validate`` and ``schema`` to the CLI's subparsers."""
    parser = sub.add_parser("validate", help="check a spec directory and report every problem")
    parser.add_argument("dir", type=Path, help="the spec directory")
    parser.add_argument("--output", "-o", choices=("text", "json"), default="text",
                        help="text: one line per problem; json: a list for CI annotations")
    parser.set_defaults(func=run_validate)
    schema = sub.add_parser("schema", help="print the JSON Schema of the spec language")
    schema.set_defaults(func=run_schema)


def _summary(count: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind}{'' if n == 1 else 's'}" for kind, n in count.items())


def run_validate(args: argparse.Namespace) -> int:
    from specs.loader import load_dir

    specs = load_dir(args.dir, runtime=args.runtime)
    errors = sorted(specs.all_errors(), key=lambda e: (e.file, e.line or 0, e.key_path, e.message))
    shown = sorted([*errors, *specs.warnings],
                   key=lambda e: (e.file, e.line or 0, e.key_path, e.message))
    if args.output == "json":
        json.dump([e.as_json() for e in shown], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for error in shown:
            print(error.format())
        count = {"file": len(specs.files)}
        for kind in ("container", "volume", "network"):
            count[kind] = sum(1 for f in specs.files for r in f.resources if r.kind == kind)
        if errors:
            bad = len({e.file for e in errors})
            print(f"{len(errors)} problem{'' if len(errors) == 1 else 's'} in {bad} "
                  f"file{'' if bad == 1 else 's'}", file=sys.stderr)
        else:
            warned = len(specs.warnings)
            print(f"{args.dir}: valid ({_summary(count)})"
                  + (f", {warned} warning{'' if warned == 1 else 's'}" if warned else ""),
                  file=sys.stderr)
    return 1 if errors else 0


def run_schema(args: argparse.Namespace) -> int:
    from specs.schema import schema_text

    sys.stdout.write(schema_text())
    return 0
