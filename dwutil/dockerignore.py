"""Docker's ``.dockerignore`` rules: which paths of a build context are sent.

Role: the build-context digest (``controller.desired.hashing.tree_digest``) must change
exactly when what Docker sends to the build changes, so it skips the paths a
context's ``.dockerignore`` excludes. This module implements the rules of
moby's ``patternmatcher`` (and docker-py's ``docker/utils/build.py``, which the
Docker driver's ``build(path=...)`` uses to make the context tar):

- one pattern a line; leading and trailing whitespace trimmed; blank lines and
  lines starting with ``#`` skipped; a UTF-8 BOM dropped;
- ``!pattern`` is an exception that re-includes what it matches; the last
  matching pattern decides;
- patterns are cleaned like Go's ``filepath.Clean`` and a leading ``/`` is
  dropped (``/foo`` means ``foo``; ``foo/`` matches ``foo``, file or folder);
- Go ``filepath.Match`` syntax (``*`` and ``?`` not crossing ``/``, ``[...]``
  classes with ``^`` negation and ranges, ``\\`` escapes) plus ``**``, any
  number of folders (``**/*.go``, ``vendor/**``);
- a pattern that matches a folder excludes everything below it, unless an
  exception may re-include something below it;
- the Dockerfile and ``.dockerignore`` are always sent.

Where docker-py and moby differ this module takes the side that counts *more*
paths (a needless rebuild is better than a missed one): matching is
case-sensitive (docker-py folds case) and a folder excluded by a pattern is
still walked when any exception pattern could match below it (docker-py
only walks it for literal exceptions). A ``.dockerignore`` with a malformed
pattern (which Docker rejects) is disregarded: everything counts.

Neighbours: ``controller.desired.hashing`` digests what :func:`walk` lists and
``runtime.docker.images.build`` tars exactly those paths, so the digest and the
context sent agree. The matcher is pure; :func:`context_filter` and :func:`walk`
read the context (never following a link).
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

IGNORE_FILE = ".dockerignore"
DEFAULT_DOCKERFILE = "Dockerfile"


class BadPattern(ValueError):
    """A ``.dockerignore`` pattern Docker rejects (e.g. ``[a``, ``!`` alone, trailing ``\\``)."""


def clean(path: str) -> str:
    """Go's ``path.Clean``: drop ``.`` and empty parts, resolve ``..`` lexically."""
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    joined = "/".join(parts)
    if rooted:
        return "/" + joined
    return joined or "."


def parse(text: str) -> list[str]:
    """The patterns of a ``.dockerignore`` file, cleaned, exceptions keeping their ``!``."""
    patterns: list[str] = []
    for line in text.removeprefix("\ufeff").splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


def _char(pattern: str, i: int) -> tuple[str, int]:
    """One (possibly ``\\``-escaped) character of a class at ``i``; Go's ``getEsc``."""
    if i >= len(pattern) or pattern[i] in "-]":
        raise BadPattern(pattern)
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise BadPattern(pattern)
    return pattern[i], i + 1


def _char_class(pattern: str, i: int) -> tuple[str, int]:
    """Regex for the class starting after ``[`` at ``i``; returns it and the index after ``]``."""
    negated = i < len(pattern) and pattern[i] == "^"
    if negated:
        i += 1
    items: list[str] = []
    count = 0
    while True:
        if i < len(pattern) and pattern[i] == "]" and count > 0:
            i += 1
            break
        lo, i = _char(pattern, i)
        hi = lo
        if i < len(pattern) and pattern[i] == "-":
            hi, i = _char(pattern, i + 1)
        count += 1
        if lo <= hi:  # an inverted range matches nothing (as in Go)
            items.append(re.escape(lo) if lo == hi else f"{re.escape(lo)}-{re.escape(hi)}")
    body = "".join(items)
    if negated:
        return (f"[^{body}]" if body else "."), i
    return (f"[{body}]" if body else "(?!)"), i


def translate(pattern: str) -> str:
    """Regex (for ``re.fullmatch``, with DOTALL) of one cleaned pattern without its ``!``."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":  # "**": any number of folders
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                out.append(".*" if i >= n else "(?:.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            regex, i = _char_class(pattern, i)
            out.append(regex)
        elif ch == "\\":
            if i >= n:
                raise BadPattern(pattern)
            out.append(re.escape(pattern[i]))
            i += 1
        else:
            out.append(re.escape(ch))
    return "".join(out)


@dataclass(frozen=True)
class Pattern:
    """One compiled pattern."""

    text: str  # cleaned, without the "!"
    exclusion: bool  # a "!" exception: re-includes what it matches
    regex: re.Pattern[str]

    @classmethod
    def compile(cls, raw: str) -> Pattern:
        exclusion = raw.startswith("!")
        text = raw[1:] if exclusion else raw
        if not text:
            raise BadPattern(f"illegal exclusion pattern: {raw!r}")
        text = clean(text)
        return cls(text, exclusion, re.compile(translate(text), re.DOTALL))

    def match(self, path: str) -> bool:
        return self.regex.fullmatch(path) is not None

    def may_match_below(self, folder: str) -> bool:
        """Whether this pattern could match ``folder``, an ancestor, or a path below it.

        Conservative: ``True`` unless some path part provably does not match.
        """
        parts = folder.split("/")
        for k, part in enumerate(self.text.split("/")):
            if "**" in part or k >= len(parts):
                return True
            try:
                regex = translate(part)
            except BadPattern:  # a class split by "/": cannot tell
                return True
            if re.fullmatch(regex, parts[k], re.DOTALL) is None:
                return False
        return True


class PatternMatcher:
    """The ordered patterns of one ``.dockerignore``; moby's ``MatchesOrParentMatches``."""

    def __init__(self, patterns: Iterable[str]) -> None:
        """Compile ``patterns`` (as :func:`parse` gives them); :class:`BadPattern` if malformed."""
        self.patterns = tuple(Pattern.compile(p) for p in patterns)
        self._exceptions = tuple(p for p in self.patterns if p.exclusion)

    def matches(self, path: str) -> bool:
        """Whether ``path`` (relative, ``/``-separated) is excluded from the context.

        A pattern matches the path itself or one of its parent folders; the last
        matching pattern decides (an exception re-includes).
        """
        parent = posixpath.dirname(path)
        parents = parent.split("/") if parent else []
        ancestors = ["/".join(parents[: k + 1]) for k in range(len(parents))]
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:  # cannot change the outcome
                continue
            if pattern.match(path) or any(pattern.match(a) for a in ancestors):
                matched = not pattern.exclusion
        return matched

    def may_include_below(self, folder: str) -> bool:
        """Whether an exception pattern could re-include something below ``folder``."""
        return any(p.may_match_below(folder) for p in self._exceptions)


_NOTHING = PatternMatcher(())


@dataclass(frozen=True)
class ContextFilter:
    """Which paths of one build context Docker sends to the build."""

    matcher: PatternMatcher
    always: frozenset[str]  # the Dockerfile and .dockerignore (relative paths)

    def sent(self, rel: str) -> bool:
        """Whether the file, link or folder at ``rel`` is sent (and so counts)."""
        return rel in self.always or not self.matcher.matches(rel)

    def walk_into(self, folder: str) -> bool:
        """Whether something below ``folder`` may be sent."""
        if not self.matcher.matches(folder):
            return True
        prefix = folder + "/"
        return self.matcher.may_include_below(folder) or any(
            a.startswith(prefix) for a in self.always)


def dockerfile_in_context(root: Path, dockerfile: str | None) -> str | None:
    """The Dockerfile's path relative to ``root``, or ``None`` when it lies outside."""
    name = dockerfile or DEFAULT_DOCKERFILE
    if os.path.isabs(name):
        name = os.path.relpath(name, os.path.abspath(root))
    rel = clean(name.replace(os.sep, "/"))
    if rel in (".", "..") or rel.startswith(("../", "/")):
        return None
    return rel


def context_filter(root: Path, dockerfile: str | None = None) -> ContextFilter:
    """The filter of the context at ``root`` (read from its ``.dockerignore``, if any).

    ``dockerfile`` is the Dockerfile relative to ``root`` (default ``Dockerfile``);
    one outside the context is not looked at. A missing, unreadable or malformed
    ``.dockerignore`` excludes nothing.
    """
    always = {IGNORE_FILE}
    own = dockerfile_in_context(root, dockerfile)
    if own is not None:
        always.add(own)
    try:
        text = (root / IGNORE_FILE).read_bytes().decode("utf-8", "surrogateescape")
        matcher = PatternMatcher(parse(text))
    except (OSError, BadPattern):
        matcher = _NOTHING
    return ContextFilter(matcher, frozenset(always))


def walk(root: Path, dockerfile: str | None = None) -> Iterator[tuple[str, Path]]:
    """``(relative path, path)`` of what Docker sends from the context at ``root``.

    In ``os.walk`` order: a folder's files, links and other non-folders sorted by
    name, then its sub-folders sorted by name. Folders are listed (with a
    trailing ``/``) only when nothing directly inside them is sent; links are
    never followed; unreadable folders are skipped.
    """
    yield from _walk(root, "", context_filter(root, dockerfile))


def _walk(folder: Path, rel: str, rules: ContextFilter) -> Iterator[tuple[str, Path]]:
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda e: e.name)
    except OSError:
        return
    folders: list[tuple[str, Path]] = []
    sent = False
    for entry in entries:
        path = rel + entry.name
        try:
            is_folder = entry.is_dir(follow_symlinks=False)
        except OSError:
            continue
        if is_folder:
            folders.append((path, Path(entry.path)))
            sent = sent or rules.sent(path)
        elif rules.sent(path):
            sent = True
            yield path, Path(entry.path)
    for path, full in folders:
        if rules.walk_into(path):
            yield from _walk(full, path + "/", rules)
    if rel and not sent and rules.sent(rel[:-1]):  # an empty folder is sent too
        yield rel, folder
