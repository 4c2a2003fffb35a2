"""Compose files read as docker-compose reads them: found, parsed, located, interpolated.

Role: the first step of ``dockwright import``. :func:`discover` finds the
compose file of a folder (``docker-compose.yml``/``.yaml``, ``compose.yml``/
``.yaml``); :func:`read` parses one file with ruamel.yaml as YAML 1.1 (what
docker-compose 1.x's PyYAML reads: ``yes`` is true), anchors and merge keys
resolved, and turns it into plain values plus the line of every key
(:class:`Origins`), interpolating every string value with
``controller.compose.interpolate``. Errors are :class:`ComposeError`,
located ``FILE:LINE: KEY.PATH: message — fix``. Neighbours:
``controller.compose.merge`` (``-f`` files and ``extends``) after it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.compose.interpolate import interpolate

Key = tuple[str | int, ...]
NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


class ComposeError(Exception):
    """A located problem of a compose file: ``FILE:LINE: KEY.PATH: message — fix``."""

    def __init__(self, where: str, key: str, message: str, fix: str = "") -> None:
        self.where, self.key, self.message, self.fix = where, key, message, fix
        text = f"{where}: {key}: {message}" if key else f"{where}: {message}"
        super().__init__(f"{text} — {fix}" if fix else text)


@dataclass
class Origins:
    """Where each key path came from: (file as shown, line)."""

    at: dict[Key, tuple[str, int]] = field(default_factory=dict)

    def where(self, key: Key) -> str:
        """``file:line`` of ``key``, else of its nearest located parent."""
        while key:
            if key in self.at:
                file, line = self.at[key]
                return f"{file}:{line}"
            key = key[:-1]
        return next((f"{f}:1" for f, _ in self.at.values()), "compose")

    def move(self, old: Key, new: Key) -> None:
        """Record the locations under ``old`` also under ``new`` (a merged-in subtree)."""
        size = len(old)
        for key, place in list(self.at.items()):
            if key[:size] == old:
                self.at[new + key[size:]] = place


def dotted(key: Key) -> str:
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def discover(folder: Path) -> Path:
    """The compose file of ``folder`` (compose's order of names)."""
    for name in NAMES:
        if (folder / name).is_file():
            return folder / name
    raise ComposeError(str(folder), "", "no compose file found",
                       "pass one with -f FILE, or run in the folder that holds "
                       "docker-compose.yml or compose.yaml")


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.version = (1, 1)  # docker-compose 1.x reads YAML 1.1 (PyYAML)
    yaml.allow_duplicate_keys = False
    return yaml


def _plain(node: Any, key: Key, shown: str, origins: Origins,
           variables: Mapping[str, str]) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap):
        base = node.lc.line + 1 if node.lc.line is not None else 1
        out: dict[str, Any] = {}
        for k, value in node.items():
            name = str(k) if not isinstance(k, bool) else ("true" if k else "false")
            try:
                line = node.lc.key(k)[0] + 1
            except (KeyError, TypeError, AttributeError):
                line = base  # a key brought in by a merge key (<<: *anchor)
            origins.at[(*key, name)] = (shown, line)
            out[name] = _plain(value, (*key, name), shown, origins, variables)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for i, value in enumerate(node):
            with contextlib.suppress(KeyError, TypeError, AttributeError, IndexError):
                origins.at[(*key, i)] = (shown, node.lc.item(i)[0] + 1)
            items.append(_plain(value, (*key, i), shown, origins, variables))
        return items
    if isinstance(node, str):
        text = str(node)
        if "$" in text and not _extension(key):
            try:
                return interpolate(text, variables)
            except ValueError as exc:
                raise ComposeError(origins.where(key), dotted(key), str(exc)) from exc
        return text
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def _extension(key: Key) -> bool:
    return any(isinstance(p, str) and p.startswith("x-") for p in key)


@dataclass
class ComposeFile:
    """One parsed compose file: its plain mapping, its folder, the lines of its keys."""

    path: Path
    shown: str
    data: dict[str, Any]
    origins: Origins


def read(path: Path, variables: Mapping[str, str], shown: str | None = None) -> ComposeFile:
    """Parse and interpolate one compose file."""
    shown = shown or path.name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ComposeError(shown, "", f"cannot read the file: {exc.strerror}",
                           "check the path given with -f") from exc
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        node = _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ComposeError(f"{shown}:{line}", "", f"invalid YAML: {exc.problem or exc}",
                           "fix the YAML syntax") from exc
    except YAMLError as exc:
        raise ComposeError(shown, "", f"invalid YAML: {exc}", "fix the YAML syntax") from exc
    origins = Origins()
    data = _plain(node, (), shown, origins, variables) if node is not None else {}
    if not isinstance(data, dict):
        raise ComposeError(f"{shown}:1", "", "a compose file is a mapping at the top",
                           "start with services:")
    if "services" not in data and "version" not in data:  # version 1: services at the top
        raise ComposeError(f"{shown}:1", "", "no services: key (compose file version 1 has "
                           "services at the top level)", "convert it to version 2 or later: "
                           "put the services under services:")
    return ComposeFile(path.resolve(), shown, data, origins)
