"""Secrets and configs: files placed read-only in a container, for every runtime.

Role: the models of ``secrets = { NAME = { file = "./db_password" } }`` and
``configs = { "/etc/app.conf" = { file = "./app.conf" } }`` of a container table
(``specs.models.Container`` holds them). A secret lands at ``/run/secrets/NAME``
unless ``target`` says otherwise (a relative target is below ``/run/secrets``, as in
compose); a config at the path that is its key. ``mode`` (default 0444) is an
integer (TOML's ``0o440``) or an octal string (``"0440"``); ``uid``/``gid`` (default
0) own the file. Only the file's path is kept here: its content is read by the
controller (``controller.desired.state``), never by the spec layer.
Neighbours: ``specs.models`` (the container fields), ``specs.validate`` (files exist,
stay inside the spec directory; :func:`target_clashes`: one target each), ``specs.cache`` (path
resolution). Pure.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, field_validator

from specs.cache import resolve_field
from specs.modelbase import Model

SECRETS_DIR = "/run/secrets"
DEFAULT_MODE = 0o444
SECRET_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _mode(value: object) -> object:
    """``"0440"`` / ``"440"`` -> 0o440; an integer stays (TOML writes octal as ``0o440``)."""
    if isinstance(value, str):
        text = value.strip().removeprefix("0o")
        if not re.fullmatch(r"0?[0-7]{1,3}", text):
            raise ValueError(f"invalid mode {value!r}: write it in octal, e.g. mode = \"0440\" "
                             "or mode = 0o440")
        return int(text, 8)
    return value


Mode = Annotated[int, BeforeValidator(_mode), Field(ge=0, le=0o777)]
Id = Annotated[int, Field(ge=0, le=2**32 - 2)]


def check_target(target: str, what: str) -> str:
    """An absolute, normalised path that names a file (not ``/``)."""
    if not target.startswith("/"):
        raise ValueError(f"{what} target {target!r} must be an absolute path, e.g. "
                         "\"/etc/app.conf\"")
    if posixpath.normpath(target) != target or target == "/" or "/../" in f"{target}/":
        raise ValueError(f"{what} target {target!r} must be a plain path to a file (no '..', "
                         "'.', '//' or trailing '/'), e.g. \"/etc/app.conf\"")
    return target


def _in_secrets(target: str) -> str:
    return target if target.startswith("/") else posixpath.join(SECRETS_DIR, target)


class SecretRef(Model):
    """``{ file = "./db_password", target = "/run/secrets/db_password" }``."""

    file: Annotated[str, BeforeValidator(resolve_field)]
    target: str | None = None
    uid: Id | None = None
    gid: Id | None = None
    mode: Mode | None = None

    @field_validator("target")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        if value is not None:
            check_target(_in_secrets(value), "secret")
        return value

    def path_in_container(self, name: str) -> str:
        """Where the secret lands: ``target`` (below /run/secrets when relative)."""
        return _in_secrets(self.target or name)


class ConfigRef(Model):
    """``{ file = "./app.conf", mode = "0440" }``; the target is the key of the entry."""

    file: Annotated[str, BeforeValidator(resolve_field)]
    uid: Id | None = None
    gid: Id | None = None
    mode: Mode | None = None


def _secret_name(name: str) -> str:
    if not SECRET_NAME_RE.match(name) or len(name) > 64:
        raise ValueError(f"invalid secret name {name!r}: use letters, digits, '_', '.' and "
                         "'-', starting with a letter or digit (at most 64)")
    return name


def _config_target(target: str) -> str:
    return check_target(target, "config")


SecretName = Annotated[str, AfterValidator(_secret_name)]
ConfigTarget = Annotated[str, AfterValidator(_config_target)]


Located = tuple[tuple[str, ...], str, str]  # (key path below the container, what, text)


def placed_files(secrets: Mapping[str, SecretRef], configs: Mapping[str, ConfigRef]
                 ) -> list[Located]:
    """(key path, "secret" | "config", file) of a container's secrets and configs."""
    out: list[Located] = [(("secrets", name), "secret", ref.file)
                          for name, ref in secrets.items()]
    out += [(("configs", target), "config", ref.file) for target, ref in configs.items()]
    return out


def target_clashes(secrets: Mapping[str, SecretRef], configs: Mapping[str, ConfigRef],
                   volumes: Sequence[str]) -> list[Located]:
    """(key path, message, hint) of each secret or config that lands where a volume
    (``volumes``: their targets, in order) or another secret or config does."""
    taken = {target: f"volumes[{i}]" for i, target in enumerate(volumes)}
    placed = [(("secrets", n), f"secret {n!r}", r.path_in_container(n))
              for n, r in secrets.items()]
    placed += [(("configs", t), f"config {t!r}", t) for t in configs]
    out: list[Located] = []
    for path, what, target in placed:
        other = taken.setdefault(target, what)
        if other != what:
            out.append((path, f"{what} lands at {target}, where {other} lands too",
                        "give each secret, config and volume its own target"))
    return out
