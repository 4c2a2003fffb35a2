"""Compose files read as docker-compose reads them: found, parsed, located, interpolated.

Role: the first step of ``dockwright import``. :func:`discover` finds the
compose file of a folder (``docker-compose.yml``/``.yaml``, ``compose.yml``/
``.yaml``); :func:`read` composes one file with ruamel.yaml (libyaml's C
parser from ruamel.yaml.clib when installed) as YAML 1.1 (what docker-compose
1.x's PyYAML reads: ``yes`` is true, ``0440`` octal) and builds plain values
from the nodes (:class:`_Builder`: anchors, aliases and merge keys resolved),
with the line of every key (:class:`Origins`), interpolating every string
value with ``controller.compose.interpolate``. Errors are :class:`ComposeError`,
located ``FILE:LINE: KEY.PATH: message — fix``. Neighbours:
``controller.compose.merge`` (``-f`` files and ``extends``) after it.
"""

from __future__ import annotations

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


def _yaml(pure: bool = False) -> Any:
    from ruamel.yaml import YAML

    # libyaml's parser (ruamel.yaml.clib) when installed: fast; the pure one takes a little
    # more (``[a:b]`` in a flow sequence, as docker-compose's pure PyYAML does)
    yaml = YAML(typ="safe", pure=pure)
    yaml.version = (1, 1)  # docker-compose 1.x reads YAML 1.1 (PyYAML): yes is true
    return yaml


_MERGE = "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"


class _Builder:
    """Plain values from ruamel.yaml's node tree, with the line of every key: merge keys
    (``<<: *anchor``) and aliases resolved, scalars typed by the YAML 1.1 resolver,
    strings interpolated."""

    def __init__(self, yaml: Any, shown: str, origins: Origins,
                 variables: Mapping[str, str]) -> None:
        self.constructor = yaml.constructor
        self.shown, self.origins, self.variables = shown, origins, variables

    def scalar(self, node: Any, key: Key) -> Any:
        if node.tag == _STR:
            text = str(node.value)
            if "$" in text and not _extension(key):
                try:
                    return interpolate(text, self.variables)
                except ValueError as exc:
                    raise ComposeError(self.origins.where(key), dotted(key), str(exc)) from exc
            return text
        if node.tag.endswith(":timestamp"):
            return str(node.value)  # compose passes dates on as written
        return self.constructor.construct_object(node)

    def mapping(self, node: Any, key: Key, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: list[Any] = []
        own: list[tuple[Any, Any]] = []
        for k, v in node.value:
            if k.tag == _MERGE:
                merged += v.value if v.id == "sequence" else [v]
            else:
                own.append((k, v))
        pairs = [pair for m in merged if m.id == "mapping" for pair in m.value
                 if pair[0].tag != _MERGE] + own
        seen: set[str] = set()
        mine = {id(k) for k, _ in own}
        for k, v in pairs:
            name = self.key_name(k)
            if id(k) in mine:
                if name in seen:
                    raise ComposeError(f"{self.shown}:{k.start_mark.line + 1}",
                                       dotted((*key, name)), "duplicate key",
                                       "keep one of them")
                seen.add(name)
            self.origins.at[(*key, name)] = (self.shown, k.start_mark.line + 1)
            out[name] = self.build(v, (*key, name), depth + 1)
        return out

    def key_name(self, node: Any) -> str:
        value = self.constructor.construct_object(node) if node.id == "scalar" else node.value
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def build(self, node: Any, key: Key, depth: int = 0) -> Any:
        if depth > 64:
            raise ComposeError(self.origins.where(key), dotted(key), "nested too deeply",
                               "flatten the file")
        if node.id == "mapping":
            return self.mapping(node, key, depth)
        if node.id == "sequence":
            items = []
            for i, item in enumerate(node.value):
                self.origins.at[(*key, i)] = (self.shown, item.start_mark.line + 1)
                items.append(self.build(item, (*key, i), depth + 1))
            return items
        return self.scalar(node, key)


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

    yaml = _yaml()
    try:
        try:
            node = yaml.compose(text)
        except YAMLError:
            yaml = _yaml(pure=True)
            node = yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ComposeError(f"{shown}:{line}", "", f"invalid YAML: {exc.problem or exc}",
                           "fix the YAML syntax") from exc
    except YAMLError as exc:
        raise ComposeError(shown, "", f"invalid YAML: {exc}", "fix the YAML syntax") from exc
    origins = Origins()
    data = _Builder(yaml, shown, origins, variables).build(node, ()) if node is not None \
        else {}
    if not isinstance(data, dict):
        raise ComposeError(f"{shown}:1", "", "a compose file is a mapping at the top",
                           "start with services:")
    if "services" not in data and "version" not in data:  # version 1: services at the top
        raise ComposeError(f"{shown}:1", "", "no services: key (compose file version 1 has "
                           "services at the top level)", "convert it to version 2 or later: "
                           "put the services under services:")
    return ComposeFile(path.resolve(), shown, data, origins)
