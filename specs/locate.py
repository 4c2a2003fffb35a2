"""Source locations for key paths in TOML text.

Role: ``tomllib`` returns plain values without line numbers, so this module
scans the (already parsed, hence valid) TOML source once and records the line
on which every key path starts: table headers ``[a.b]``, arrays of tables
``[[a.b]]``, dotted keys ``a.b = 1``, keys inside inline tables and each
element of an array. It also formats key paths (``container.web.ports[1]``) and places
(``FILE:LINE``), and reads the line out of a ``tomllib.TOMLDecodeError`` message.
Neighbours: used by ``specs.loader`` (to locate per-file errors and resources)
and ``specs.validate`` (cross-file errors) through :class:`Locator`.
Values nested deeper than ``MAX_DEPTH`` end the scan too, with the key where
that value starts kept in ``Locator.too_deep`` (the loader reports it).
Best effort by design: a construct it cannot follow ends the scan and the
lookup falls back to the nearest enclosing key that was recorded.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence

Segment = str | int
KeyPath = tuple[Segment, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_AT_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")
_AT_END = re.compile(r"\(at end of document\)")
MAX_DEPTH = 64  # arrays and inline tables in one value; no spec needs more than a few
_SCALAR = re.compile(r"[^,\]}\s#]+(?: [0-9:.+Z-]+)?")  # numbers, booleans, dates


def format_path(path: Sequence[Segment]) -> str:
    """``("container", "web", "ports", 1)`` -> ``container.web.ports[1]``."""
    out = ""
    for seg in path:
        if isinstance(seg, int):
            out += f"[{seg}]"
            continue
        text = seg if _BARE.fullmatch(seg) else '"' + seg.replace('"', '\\"') + '"'
        out += f".{text}" if out else text
    return out


def where(file: str, line: int | None) -> str:
    """``FILE:LINE`` of another place an error names (``FILE`` alone when unknown)."""
    return f"{file}:{line}" if line else file


def syntax_error_line(message: str, text: str) -> int | None:
    """The line of a ``TOMLDecodeError``: ``"... (at line 3, column 7)"`` -> 3."""
    match = _AT_LINE.search(message)
    if match:
        return int(match.group(1))
    if _AT_END.search(message):
        return text.count("\n") + (0 if text.endswith("\n") else 1) or 1
    return None


class _Stop(Exception):
    """The scanner met something it does not follow; keep what was recorded."""


class Locator:
    """Key path -> first line (1-based) of that key in one TOML document."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        self._line = 1
        self.lines: dict[KeyPath, int] = {}
        self._aot: dict[KeyPath, int] = {}  # array-of-tables path -> element count
        # (key path, line) of the first value nested more than MAX_DEPTH levels deep
        self.too_deep: tuple[KeyPath, int] | None = None
        self._top: tuple[KeyPath, int] = ((), 1)
        with contextlib.suppress(_Stop, IndexError):
            self._document()

    def line_of(self, path: Sequence[Segment]) -> int | None:
        """Line of ``path``, else of its nearest recorded ancestor, else None."""
        key = tuple(path)
        while key:
            line = self.lines.get(key)
            if line is not None:
                return line
            key = key[:-1]
        return None

    # -- scanning ------------------------------------------------------------
    def _peek(self, n: int = 1) -> str:
        return self._text[self._pos : self._pos + n]

    def _advance(self, n: int = 1) -> None:
        chunk = self._text[self._pos : self._pos + n]
        self._line += chunk.count("\n")
        self._pos += n

    def _skip_ws(self, newlines: bool = False) -> None:
        while self._pos < len(self._text):
            char = self._text[self._pos]
            if char in " \t\r" or (newlines and char == "\n"):
                self._advance()
            elif char == "#" and newlines:
                end = self._text.find("\n", self._pos)
                self._advance((len(self._text) if end < 0 else end) - self._pos)
            else:
                return

    def _record(self, path: KeyPath, line: int) -> None:
        self.lines.setdefault(path, line)

    def _document(self) -> None:
        table: KeyPath = ()
        while True:
            self._skip_ws(newlines=True)
            if self._pos >= len(self._text):
                return
            line = self._line
            if self._peek(2) == "[[":
                self._advance(2)
                key = self._resolve(self._key(), whole=False)
                self._expect("]]")
                index = self._aot.get(key, 0)
                self._aot[key] = index + 1
                table = (*key, index)
                self._record(key, line)
                self._record(table, line)
            elif self._peek() == "[":
                self._advance()
                table = self._resolve(self._key(), whole=True)
                self._expect("]")
                self._record_prefixes((), table, line)
            else:
                key = self._key()
                self._expect("=")
                self._record_prefixes(table, key, line)
                self._top = ((*table, *key), line)
                self._value((*table, *key))
            self._skip_ws()
            if self._peek() == "#":
                self._skip_ws(newlines=True)
            elif self._pos < len(self._text) and self._peek() != "\n":
                raise _Stop

    def _resolve(self, key: KeyPath, *, whole: bool) -> KeyPath:
        """Insert the current index after every array-of-tables prefix of a header."""
        out: KeyPath = ()
        for i, seg in enumerate(key):
            out = (*out, seg)
            last = i == len(key) - 1
            if out in self._aot and (whole or not last):
                out = (*out, self._aot[out] - 1)
        return out

    def _record_prefixes(self, table: KeyPath, key: KeyPath, line: int) -> None:
        for i in range(1, len(key) + 1):
            self._record((*table, *key[:i]), line)

    def _expect(self, token: str) -> None:
        self._skip_ws()
        if self._peek(len(token)) != token:
            raise _Stop
        self._advance(len(token))

    def _key(self) -> KeyPath:
        parts: list[str] = []
        while True:
            self._skip_ws()
            char = self._peek()
            if char in ('"', "'"):
                parts.append(self._string())
            else:
                match = _BARE.match(self._text, self._pos)
                if not match:
                    raise _Stop
                parts.append(match.group())
                self._advance(match.end() - self._pos)
            self._skip_ws()
            if self._peek() != ".":
                return tuple(parts)
            self._advance()

    def _string(self) -> str:
        quote = self._peek()
        triple = self._peek(3) == quote * 3
        delim = quote * 3 if triple else quote
        self._advance(len(delim))
        start = self._pos
        while self._pos < len(self._text):
            if quote == '"' and self._peek() == "\\":
                self._advance(2)
                continue
            if self._peek(len(delim)) == delim:
                raw = self._text[start : self._pos]
                self._advance(len(delim))
                while triple and self._peek() == quote:  # up to two quotes end the content
                    self._advance()
                return raw
            if not triple and self._peek() == "\n":
                raise _Stop
            self._advance()
        raise _Stop

    def _value(self, path: KeyPath, depth: int = 0) -> None:
        self._skip_ws()
        self._record(path, self._line)
        char = self._peek()
        if char in "[{" and depth >= MAX_DEPTH:  # recursion stays bounded on any input
            self.too_deep = self._top
            raise _Stop
        if char in ('"', "'"):
            self._string()
        elif char == "[":
            self._advance()
            index = 0
            while True:
                self._skip_ws(newlines=True)
                if self._peek() == "]":
                    self._advance()
                    return
                self._value((*path, index), depth + 1)
                index += 1
                self._skip_ws(newlines=True)
                if self._peek() == ",":
                    self._advance()
                elif self._peek() != "]":
                    raise _Stop
        elif char == "{":
            self._advance()
            while True:
                self._skip_ws()
                if self._peek() == "}":
                    self._advance()
                    return
                line = self._line
                key = self._key()
                self._expect("=")
                self._record_prefixes(path, key, line)
                self._value((*path, *key), depth + 1)
                self._skip_ws()
                if self._peek() == ",":
                    self._advance()
                elif self._peek() != "}":
                    raise _Stop
        else:
            match = _SCALAR.match(self._text, self._pos)
            if not match:
                raise _Stop
            self._advance(match.end() - self._pos)
