"""Friendly messages for validation errors.

Role: turn a pydantic ``ValidationError`` raised while validating one resource
table into :class:`Problem` values: a key path into the *input* (as written in
the file, e.g. ``container.web.ports[1]``), a message and a hint that says the
fix ("did you mean 'env'?", "e.g. replicas = 2"). Pydantic's locations name
the validated form (union members, fields of parsed short syntaxes); they are
mapped back onto the input data, and the several errors of a failed union
become one. Neighbours: called by ``specs.loader``; ``specs.locate`` turns the
key paths into lines; ``specs.models`` supplies field names for suggestions;
``specs.hints`` holds the words of the hints (an example line per key, synonyms,
docker-compose keys with no counterpart).
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from specs.hints import EXAMPLES, MODEL_EXAMPLES, SYNONYMS, UNSUPPORTED
from specs.locate import KeyPath, format_path

_TYPES = {
    "string_type": "a string", "int_type": "an integer", "int_parsing": "an integer",
    "int_from_float": "an integer", "float_type": "a number", "float_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false", "dict_type": "a table",
    "model_type": "a table", "model_attributes_type": "a table", "tuple_type": "a list",
    "list_type": "a list",
}

_EXPECTED = {  # fields that take more than one type
    "command": "a string or a list of strings", "entrypoint": "a string or a list of strings",
    "image": "a string or a table", "test": "a string or a list of strings",
    "networks": "a list or a table", "depends_on": "a list or a table",
    "restart": "a string such as \"always\"",
}
_ITEM_EXPECTED = {  # list items with a short string form
    "ports": '"[ip:]host:container[/udp]", a port number or a table',
    "volumes": '"source:/path[:ro]" or a table', "links": '"name[:alias]" or a table',
    "volumes_from": '"name[:ro]" or a table',
}
_UNION_EXPECTED = {
    "env": 'a string, { file = "secrets/x" } or { env = "HOST_VAR" }',
}


@dataclass(frozen=True)
class Problem:
    """One located-by-key-path problem, before it gets a file and a line."""

    path: KeyPath
    message: str
    hint: str | None = None


def hinted(path: KeyPath, text: str) -> Problem:
    """A checker's ``"message — hint"`` (``specs.names``) as a problem with its hint apart."""
    message, _, hint = text.partition(" — ")
    return Problem(path, message, hint or None)


def close_match(word: str, choices: typing.Iterable[str]) -> str | None:
    """The choice that looks like a typo of ``word``, if one does: similar (ratio 0.75 or
    more) and of about the same length, so that ``dns`` never suggests ``depends_on``."""
    for match in difflib.get_close_matches(word, list(choices), n=3, cutoff=0.75):
        if abs(len(match) - len(word)) <= max(2, len(word) // 3):
            return match
    return None


def suggest(word: str, choices: typing.Iterable[str]) -> str | None:
    """The closest choice to ``word`` (typos and compose synonyms), if any is close."""
    options = {c: c for c in choices}
    for alias, target in SYNONYMS.items():
        if target in options:
            options.setdefault(alias, target)
    lowered = word.lower()
    if lowered in options:
        return options[lowered]
    match = close_match(lowered, options)
    return options[match] if match else None


def unknown_table(kind: str, name: str | None, known: typing.Iterable[str]) -> Problem:
    """``[contaner.x]`` -> "unknown table [contaner.x] — did you mean [container.x]?"."""
    shown = f"{kind}.{name}" if name is not None else kind
    best = suggest(kind, known)
    kinds = ", ".join(f"[{k}]" if k == "project" else f"[{k}.NAME]" for k in known)
    if best is not None:
        fixed = f"{best}.{name}" if name is not None and best != "project" else best
        hint = f"did you mean [{fixed}]?"
    else:
        hint = f"a spec file declares {kinds}"
    return Problem((kind,) if name is None else (kind, name), f"unknown table [{shown}]", hint)


def _unwrap(tp: Any) -> list[Any]:
    """The member types of an annotation (Annotated, unions and containers opened)."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(tp) for m in _unwrap(arg)]
    return [tp]


def _element(tp: Any) -> Any:
    """The element type of ``tuple[X, ...]`` / the value type of ``dict[K, V]``."""
    for member in _unwrap(tp):
        origin = typing.get_origin(member)
        if origin is tuple:
            return typing.get_args(member)[0]
        if origin is dict:
            return typing.get_args(member)[1]
    return None


def _model(tp: Any) -> type[BaseModel] | None:
    for member in _unwrap(tp):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def _walk(model: type[BaseModel], path: KeyPath) -> tuple[type[BaseModel] | None, str | None]:
    """The model owning the deepest field along ``path`` and that field's name."""
    tp: Any = model
    owner: type[BaseModel] | None = None
    field: str | None = None
    for seg in path:
        current = _model(tp)
        if current is not None and isinstance(seg, str) and seg in current.model_fields:
            owner, field, tp = current, seg, current.model_fields[seg].annotation
        else:
            tp = _element(tp)
    return owner, field


def _model_at(model: type[BaseModel], path: KeyPath) -> type[BaseModel] | None:
    tp: Any = model
    for seg in path:
        current = _model(tp)
        if current is not None and isinstance(seg, str) and seg in current.model_fields:
            tp = current.model_fields[seg].annotation
        else:
            tp = _element(tp)
    return _model(tp)


@dataclass(frozen=True)
class _Loc:
    """Where one pydantic error points in the input data."""

    path: KeyPath  # keys and indexes that exist in the input
    tag: str | None = None  # union member named in the location, if any
    union_at: KeyPath = ()  # the input path of that union
    missing: str | None = None  # the missing key of a "missing" error


def _is_tag(seg: str) -> bool:
    """Union members appear in locations as class or type names, never as snake_case keys."""
    return seg[:1].isupper() or "[" in seg or seg in ("str", "int", "float", "bool", "none")


def _child(value: object, seg: str | int) -> tuple[bool, object]:
    """(True, value[seg]) when the input has that key or index."""
    if isinstance(value, dict) and isinstance(seg, str) and seg in value:
        return True, value[seg]
    if isinstance(value, list | tuple) and isinstance(seg, int) and 0 <= seg < len(value):
        return True, value[seg]
    return False, None


# Keys that a model folds into another place before validating: (validated loc) -> input key.
_FOLDED: dict[tuple[str | int, ...], str] = {("image", "pull"): "pull"}


def _map_loc(err: ErrorDetails, data: object) -> _Loc:
    path: KeyPath = ()
    current = data
    tag: str | None = None
    union_at: KeyPath = ()
    loc = err["loc"]
    folded = _FOLDED.get(tuple(loc))
    if folded is not None and isinstance(data, dict) and folded in data:
        return _Loc((folded,))
    for i, seg in enumerate(loc):
        found, child = _child(current, seg)
        if found:
            path, current = (*path, seg), child
        elif isinstance(current, dict) and i == len(loc) - 1 and err["type"] == "missing":
            return _Loc(path, tag, union_at, str(seg))
        elif isinstance(seg, str) and tag is None and _is_tag(seg):
            tag, union_at = seg, path
        else:
            break
    return _Loc(path, tag, union_at)


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})" if len(value) < 40 else "a string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _example_hint(model: type[BaseModel], path: KeyPath) -> str | None:
    owner, field = _walk(model, path)
    owner_name = owner.__name__ if owner is not None else ""
    example = MODEL_EXAMPLES.get((owner_name, field or "")) or EXAMPLES.get(field or "")
    return f"e.g. {example}" if example else None


def _one(err: ErrorDetails, path: KeyPath, missing: str | None, prefix: KeyPath,
         model: type[BaseModel]) -> Problem:
    kind = err["type"]
    where = format_path((*prefix, *path[:-1]))
    if kind == "extra_forbidden" and path and isinstance(path[-1], str):
        key = path[-1]
        owner = _model_at(model, path[:-1])
        fields = list(owner.model_fields) if owner is not None else []
        if owner is not None and owner.__name__ == "Container":
            fields.append("pull")
        best = suggest(key, fields)
        if best is None and owner is not None and owner.__name__ == "Container" and (
                key in UNSUPPORTED):
            return Problem((*prefix, *path), f"'{key}' is not supported yet in {where} (a "
                           "docker-compose key that dockwright does not implement)",
                           "remove it; see the README's spec language for the keys there are")
        hint = f"did you mean '{best}'?" if best else (
            f"known keys: {', '.join(fields)}" if fields else None)
        return Problem((*prefix, *path), f"unknown key '{key}' in {where}", hint)
    if missing is not None:
        example = EXAMPLES.get(missing)
        return Problem((*prefix, *path), f"missing required key '{missing}'",
                       f"e.g. {example}" if example else None)
    if kind in ("value_error", "assertion_error"):
        message = err["msg"].split(", ", 1)[1] if ", " in err["msg"] else err["msg"]
        return hinted((*prefix, *path), message)
    if kind == "literal_error":
        expected = str((err.get("ctx") or {}).get("expected", ""))
        choices = [c.strip(" '") for c in expected.replace(" or ", ", ").split(",")]
        value = err["input"]
        best = suggest(value, choices) if isinstance(value, str) else None
        return Problem((*prefix, *path), f"invalid value {value!r}: use {expected}",
                       f"did you mean '{best}'?" if best else None)
    if kind in _TYPES:
        _, field = _walk(model, path)
        several = _EXPECTED.get(field or "") if path and path[-1] == field else None
        if path and isinstance(path[-1], int) and len(path) > 1 and path[-2] == field:
            several = _ITEM_EXPECTED.get(field or "")
        return Problem((*prefix, *path),
                       f"wrong type: expected {several or _TYPES[kind]}, "
                       f"got {_describe(err['input'])}",
                       _example_hint(model, path))
    message = err["msg"]
    if message.startswith("Input should be "):
        message = f"{err['input']!r} is out of range: must be {message[16:]}"
    return Problem((*prefix, *path), message, _example_hint(model, path))


def _value_at(data: object, path: KeyPath) -> object:
    for seg in path:
        if isinstance(data, dict):
            data = data.get(seg)
        elif isinstance(data, list | tuple) and isinstance(seg, int):
            data = data[seg]
    return data


def problems(exc: ValidationError, data: object, prefix: KeyPath,
             model: type[BaseModel]) -> list[Problem]:
    """Friendly, de-duplicated problems of one resource table's validation error."""
    plain: list[Problem] = []
    unions: dict[KeyPath, dict[str, list[tuple[ErrorDetails, _Loc]]]] = {}
    for err in exc.errors(include_url=False):
        loc = _map_loc(err, data)
        if loc.tag is None:
            plain.append(_one(err, loc.path, loc.missing, prefix, model))
        else:
            unions.setdefault(loc.union_at, {}).setdefault(loc.tag, []).append((err, loc))
    for at, members in unions.items():
        value = _value_at(data, at)
        fitting = [errs for errs in members.values()
                   if isinstance(value, dict) and not any(
                       e["type"] == "extra_forbidden" or (e["type"] in _TYPES and loc.path == at)
                       for e, loc in errs)]
        if fitting:
            plain.extend(_one(e, loc.path, loc.missing, prefix, model) for e, loc in fitting[0])
            continue
        _, field = _walk(model, at)
        expected = _UNION_EXPECTED.get(field or "", " or ".join(members))
        plain.append(Problem((*prefix, *at),
                             f"wrong type: expected {expected}, got {_describe(value)}",
                             _example_hint(model, at)))
    seen: set[tuple[KeyPath, str]] = set()
    out: list[Problem] = []
    for problem in plain:
        if (problem.path, problem.message) not in seen:
            seen.add((problem.path, problem.message))
            out.append(problem)
    return out
