"""Per-field comparison of a desired container with the live one.

Role: a table of rules (in the style of community.docker's docker_container)
says for each ``ContainerConfig`` field how to compare it (strict, as a set,
per key, ignored, or with the image's default filled in) and whether a
difference is updated in place (restart, resources, the aliases on a network
the container stays on) or needs a recreate.
Before comparing, desired values are normalised to what the runtime reports:
image env/cmd/entrypoint/workdir/user/labels/healthcheck defaults are merged
in (``runtime.imagedefaults.merge``), orders and port formats are
canonicalised, so a converged container compares equal (principle 3);
anonymous volumes a recreate carried over count as the spec's
(``controller.planning.anonymous.live_mounts``). Neighbours: called by
``controller.planning.plan`` with a ``desired.DesiredContainer`` and an
inspected ``runtime.types.ContainerInfo``; returns
``controller.planning.diff.FieldChange`` values. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from controller.desired.naming import LABEL_FILES
from controller.desired.state import DesiredContainer
from controller.planning import anonymous
from controller.planning.diff import FieldChange, show
from runtime.imagedefaults import merge
from runtime.types import (
    ContainerConfig,
    ContainerInfo,
    HealthSpec,
    ImageInfo,
    MountSpec,
    PortBinding,
    ResourceSpec,
)


class Rule(StrEnum):
    STRICT = "strict"  # equal, None included
    IF_SET = "if-set"  # compared only when the spec sets it
    SET = "set"  # order does not matter
    KEYS = "keys"  # mapping compared key by key
    IMAGE_DEFAULT = "image-default"  # unset in the spec means "the image's value"
    IGNORE = "ignore"


class Update(StrEnum):
    IN_PLACE = "in-place"
    RECREATE = "recreate"


RULES: dict[str, tuple[Rule, Update]] = {
    "name": (Rule.IGNORE, Update.RECREATE),
    "image": (Rule.STRICT, Update.RECREATE),
    "command": (Rule.IMAGE_DEFAULT, Update.RECREATE),
    "entrypoint": (Rule.IMAGE_DEFAULT, Update.RECREATE),
    "env": (Rule.KEYS, Update.RECREATE),  # image env merged in
    "workdir": (Rule.IMAGE_DEFAULT, Update.RECREATE),
    "user": (Rule.IMAGE_DEFAULT, Update.RECREATE),
    "hostname": (Rule.IF_SET, Update.RECREATE),
    "labels": (Rule.KEYS, Update.RECREATE),  # image labels merged in, ours skipped
    "ports": (Rule.SET, Update.RECREATE),
    "mounts": (Rule.SET, Update.RECREATE),
    "volumes_from": (Rule.SET, Update.RECREATE),
    "networks": (Rule.SET, Update.RECREATE),
    "restart": (Rule.STRICT, Update.IN_PLACE),  # resources too, unless a limit is lifted
    "healthcheck": (Rule.IMAGE_DEFAULT, Update.RECREATE),
    "resources": (Rule.STRICT, Update.IN_PLACE),
    "stdin_open": (Rule.STRICT, Update.RECREATE),
    "tty": (Rule.STRICT, Update.RECREATE),
    "stop_signal": (Rule.IMAGE_DEFAULT, Update.RECREATE),
    "stop_timeout": (Rule.IF_SET, Update.RECREATE),
}
OWN_LABEL_PREFIX = "io.dockwright."
IN_PLACE_FIELDS = frozenset(k for k, (_, u) in RULES.items() if u is Update.IN_PLACE)


def in_place_field(field: str) -> bool:
    """Whether a change of ``field`` (as named in a FieldChange) is made in place:
    restart, resources and the aliases of a network the container stays on."""
    return field in IN_PLACE_FIELDS or (field.startswith("networks.")
                                        and field.endswith(".aliases"))


def _port(p: PortBinding) -> str:
    ip = "" if p.host_ip in ("", "0.0.0.0", "::") else p.host_ip
    host = "" if not p.host_port else str(p.host_port)
    prefix = f"{ip}:" if ip else ""
    return f"{prefix}{host}:{p.container_port}/{p.protocol.lower()}" if host or ip \
        else f"{p.container_port}/{p.protocol.lower()}"


def _mount(m: MountSpec) -> str:
    source = m.source if m.type != "volume" or m.source else "(anonymous)"
    text = f"{m.type}:{source or ''}:{m.target}{':ro' if m.read_only else ''}"
    return text + (f":size={m.size}" if m.size else "")


def _health(h: HealthSpec | None) -> str | None:
    if h is None or h.test in ((), ("NONE",)):
        return None if h is None else "NONE"
    parts = [f"test={list(h.test)}"]
    for key in ("interval", "timeout", "retries", "start_period"):
        value = getattr(h, key)
        if value:  # 0 and None both mean "runtime default"
            parts.append(f"{key}={value:g}")
    return " ".join(parts)


def _lifts_limit(new: ResourceSpec, old: ResourceSpec) -> bool:
    return bool((old.memory and not new.memory) or (old.cpus and not new.cpus)
                or (old.pids and not new.pids))


def _resources(r: ResourceSpec) -> str:
    return f"memory={r.memory or 0} cpus={r.cpus or 0:g} pids={r.pids or 0}"


def _keys(field: str, old: dict[str, str], new: dict[str, str], in_place: bool,
          secret: frozenset[str] = frozenset()) -> list[FieldChange]:
    out = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            out.append(FieldChange(f"{field}.{key}", old.get(key), new.get(key), in_place,
                                   secret=key in secret))
    return out


def expected(desired: DesiredContainer, image: ImageInfo | None) -> ContainerConfig:
    """The desired config as the runtime will report it once created from ``image``
    (``runtime.imagedefaults.merge``: the merge every runtime uses)."""
    return desired.config if image is None else merge(desired.config, image)


_SHOW: dict[str, Callable[[Any], Any]] = {
    "ports": lambda v: sorted(_port(p) for p in v),
    "mounts": lambda v: sorted(_mount(m) for m in v),
    "volumes_from": lambda v: sorted(f"{n}{':ro' if ro else ''}" for n, ro in v),
    "healthcheck": _health,
    "resources": _resources,
    "restart": lambda r: f"{r.name}:{r.max_retries}" if r.max_retries else r.name,
    "command": lambda v: None if not v else list(v),
    "entrypoint": lambda v: None if not v else list(v),
    "workdir": lambda v: v or None,
    "user": lambda v: v or None,
    "stop_signal": lambda v: v or None,
}


def _networks(want: ContainerConfig, have: ContainerConfig) -> list[FieldChange]:
    desired = {n.network: set(n.aliases) for n in want.networks}
    actual = {n.network: set(n.aliases) for n in have.networks}
    out = []
    if set(desired) != set(actual):
        out.append(FieldChange("networks", show(sorted(actual)), show(sorted(desired))))
    for net, aliases in sorted(desired.items()):
        if net in actual and aliases != actual[net]:
            out.append(FieldChange(f"networks.{net}.aliases", show(sorted(actual[net])),
                                   show(sorted(aliases)), in_place=True))
    return out


def compare(desired: DesiredContainer, live: ContainerInfo,
            image: ImageInfo | None) -> list[FieldChange]:
    """Field changes from the live container to the desired one (empty: in sync)."""
    want = expected(desired, image)
    have = live.config
    out: list[FieldChange] = []
    for field, (rule, update) in RULES.items():
        in_place = update is Update.IN_PLACE
        new, old = getattr(want, field), getattr(have, field)
        if rule is Rule.IGNORE or (rule is Rule.IF_SET and new is None):
            continue
        if field == "env":
            out += _keys("env", dict(old), dict(new), in_place, desired.secret_keys)
            continue
        if field == "labels":
            ours = {k: v for k, v in dict(new).items() if not k.startswith(OWN_LABEL_PREFIX)}
            theirs = {k: v for k, v in dict(old).items() if not k.startswith(OWN_LABEL_PREFIX)}
            out += _keys("labels", theirs, ours, in_place)
            continue
        if field == "networks":
            out += _networks(want, have)
            continue
        if field == "mounts":  # volumes a recreate carried over are what the spec asked for
            old = anonymous.live_mounts(live, want.mounts, image)
        fmt: Callable[[Any], Any] = _SHOW.get(field, show)
        new_v, old_v = fmt(new), fmt(old)
        if new_v != old_v:
            if field == "resources" and _lifts_limit(new, old):
                in_place = False  # Docker's update cannot remove a memory or cpu limit
            out.append(FieldChange(field, show(old_v), show(new_v), in_place))
    out += file_changes(desired, dict(live.summary.labels).get(LABEL_FILES))
    return out


def file_changes(desired: DesiredContainer, label: str | None) -> list[FieldChange]:
    """Referenced files (env_file, secrets, build context, archive) whose content changed."""
    try:
        before: dict[str, str] = json.loads(label) if label else {}
    except ValueError:
        before = {}
    now = dict(desired.files)
    out = []
    for what in sorted(set(before) | set(now)):
        if before.get(what) != now.get(what):
            kind, _, path = what.partition(":")
            out.append(FieldChange(f"{kind}[{path}]", before.get(what), now.get(what),
                                   secret=kind in ("secret", "env_file")))
    return out
