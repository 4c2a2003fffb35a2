"""Per-field comparison of a desired container with the live one: the container rule table.

Role: :data:`RULES` gives every ``runtime.types.ContainerConfig`` field one
``controller.planning.fieldrules.Row``: its comparator (strict, set,
keys, image-default, quantity, ignore), whether a difference is updated in
place (restart, resources, network membership and aliases) or needs a
recreate, and the field's own parameters: how values are shown (port and
mount forms, ``None`` for an empty command), env values of secret keys
masked, dockwright's own labels (``io.dockwright.*``) and docker-compose's skipped, anonymous
volumes a recreate carried over counted as the spec's
(``controller.planning.anonymous.live_mounts``), a lifted resource limit
forcing a recreate (Docker cannot remove a memory or cpu limit in place),
the stop timeout as the whole seconds Docker keeps, 10 s when unset; the
host-level fields (capabilities ... ``oom_score_adj``) with the server defaults
they know (``controller.planning.hostrules``); secrets and configs by name
(:func:`placed_changes`: content digest, target, mode, owner).
:func:`expected` fills the image's defaults into the desired config with
``runtime.imagedefaults.merge`` (the merge every runtime uses), so a
converged container compares equal (principle 3).

Network contract with ``controller.execution``: joining or leaving a
network is ``networks.<net>`` (old/new: the sorted alias list, ``None`` when
not attached); a changed alias set on a network the container stays on is
``networks.<net>.aliases``; both in place.

Neighbours: called by ``controller.planning.plan`` with a
``desired.DesiredContainer`` and an inspected ``runtime.types.ContainerInfo``;
returns ``controller.planning.diff.FieldChange`` values. Pure.
"""

from __future__ import annotations

import json

from controller.compose import labels as compose_labels
from controller.desired.naming import LABEL_FILES
from controller.desired.state import DesiredContainer
from controller.planning import anonymous, hostrules
from controller.planning.diff import FieldChange
from controller.planning.fieldrules import Kind, Row, Sides, Update, diff, in_place
from runtime.imagedefaults import merge
from runtime.types import (
    ContainerConfig,
    ContainerInfo,
    FileMount,
    HealthSpec,
    ImageInfo,
    MountSpec,
    NetworkAttach,
    PortBinding,
    ResourceSpec,
    RestartSpec,
)

OWN_LABEL_PREFIX = "io.dockwright."
DOCKER_STOP_TIMEOUT = 10.0  # seconds a stop waits when the container sets none


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


def _volumes_from(item: tuple[str, bool]) -> str:
    return f"{item[0]}{':ro' if item[1] else ''}"


def _health(h: HealthSpec | None) -> str | None:
    if h is None or h.test in ((), ("NONE",)):
        return None if h is None else "NONE"
    parts = [f"test={list(h.test)}"]
    for key in ("interval", "timeout", "retries", "start_period"):
        value = getattr(h, key)
        if value:  # 0 and None both mean "runtime default"
            parts.append(f"{key}={value:g}")
    return " ".join(parts)


_LIFTED = ("memory", "cpus", "pids", "cpu_shares", "cpuset", "memory_reservation")


def _lifts_limit(old: ResourceSpec, new: ResourceSpec) -> bool:
    """Docker cannot take a limit away in place (0 and "" mean "unchanged" to an update)."""
    return any(getattr(old, k) and not getattr(new, k) for k in _LIFTED)


def _resources(r: ResourceSpec) -> str:
    text = f"memory={r.memory or 0} cpus={r.cpus or 0:g} pids={r.pids or 0}"
    if r.memory_swap:  # unset: the runtime's own for the memory limit; an update resets it
        text += f" memory+swap={'unlimited' if r.memory_swap < 0 else r.memory_swap}"
    for key in ("cpu_shares", "cpuset", "memory_reservation"):
        if getattr(r, key):
            text += f" {key}={getattr(r, key)}"
    return text


def _restart(r: RestartSpec) -> str:
    return f"{r.name}:{r.max_retries}" if r.max_retries else r.name


def _args(value: tuple[str, ...] | None) -> list[str] | None:
    return None if not value else list(value)


def _text(value: str | None) -> str | None:
    return value or None


def _aliases(value: tuple[NetworkAttach, ...]) -> dict[str, list[str]]:
    return {n.network: sorted(n.aliases) for n in value}


def _live_mounts(sides: Sides) -> tuple[MountSpec, ...]:
    mounts = anonymous.live_mounts(sides.source, sides.want.mounts, sides.defaults)
    keyed = hostrules.tmpfs_mounts(sides)  # reported as mounts, declared by ``tmpfs``
    return tuple(m for m in mounts if m.target not in keyed) if keyed else mounts


IN_PLACE = Update.IN_PLACE
RULES: dict[str, Row] = {
    "name": Row(Kind.IGNORE),  # the live container was found by it
    "image": Row(Kind.STRICT),
    "command": Row(Kind.IMAGE_DEFAULT, display=_args),
    "entrypoint": Row(Kind.IMAGE_DEFAULT, display=_args),
    "env": Row(Kind.KEYS, masked=True, from_defaults=True),  # image env merged in
    "workdir": Row(Kind.IMAGE_DEFAULT, display=_text),
    "user": Row(Kind.IMAGE_DEFAULT, display=_text),
    # unset: the runtime's own (the short id), which every driver reports as None, so a
    # hostname taken out of the spec is a change (not "if set": the old one would stay)
    "hostname": Row(Kind.STRICT, live=hostrules.hostname),
    # dockwright's own labels and docker-compose's (a container adopted from compose keeps
    # them: they are bookkeeping, ``controller.planning.adoption``)
    "labels": Row(Kind.KEYS, skip_prefix=(OWN_LABEL_PREFIX, compose_labels.PREFIX),
                  from_defaults=True),
    "ports": Row(Kind.SET, display=_port),
    "mounts": Row(Kind.SET, display=_mount, live=_live_mounts),
    "volumes_from": Row(Kind.SET, display=_volumes_from),
    "networks": Row(Kind.KEYS, IN_PLACE, entries=_aliases, member="aliases"),
    "restart": Row(Kind.STRICT, IN_PLACE, display=_restart),
    "healthcheck": Row(Kind.IMAGE_DEFAULT, display=_health),
    "resources": Row(Kind.STRICT, IN_PLACE, display=_resources, recreate_when=_lifts_limit),
    "stdin_open": Row(Kind.STRICT),
    "tty": Row(Kind.STRICT),
    "stop_signal": Row(Kind.IMAGE_DEFAULT, display=_text),
    "stop_timeout": Row(Kind.QUANTITY, unit="s", step=1.0, default=DOCKER_STOP_TIMEOUT),
    **hostrules.ROWS,  # init, cap_add, ..., oom_score_adj: the host-level fields
    "files": Row(Kind.IGNORE),  # secrets and configs: :func:`placed_changes`
}


def in_place_field(field: str) -> bool:
    """Whether a change of ``field`` (as named in a FieldChange) is made in place:
    restart, resources, ``networks.<net>`` and ``networks.<net>.aliases``."""
    return in_place(RULES, field)


def expected(desired: DesiredContainer, image: ImageInfo | None) -> ContainerConfig:
    """The desired config as the runtime will report it once created from ``image``."""
    return desired.config if image is None else merge(desired.config, image)


def compare(desired: DesiredContainer, live: ContainerInfo,
            image: ImageInfo | None) -> list[FieldChange]:
    """Field changes from the live container to the desired one (empty: in sync)."""
    sides = Sides(want=expected(desired, image), have=live.config, spec=desired.config,
                  defaults=image, source=live, secrets=desired.secret_keys)
    out = diff(RULES, sides)
    out += placed_changes(desired.config.files, live.config.files)
    out += file_changes(desired, dict(live.summary.labels).get(LABEL_FILES))
    return out


def _placed(f: FileMount) -> str:
    content = "" if f.kind == "secret" else f" content={f.digest}"
    return f"{f.target} mode={f.mode:04o} uid={f.uid} gid={f.gid}{content}"


def placed_changes(want: tuple[FileMount, ...], have: tuple[FileMount, ...]
                   ) -> list[FieldChange]:
    """Secrets and configs added, removed or changed (content, target, mode or owner), as
    ``secrets.NAME`` / ``configs.TARGET``; a secret's content is never shown, not even
    as its digest. Where the runtime keeps the copy (``source``) is not compared."""
    new = {(f.kind, f.name): f for f in want}
    old = {(f.kind, f.name): f for f in have}
    out = []
    for key in sorted(set(new) | set(old)):
        a, b = old.get(key), new.get(key)
        if a is not None and b is not None and (a.digest, _placed(a)) == (b.digest, _placed(b)):
            continue
        secret = key[0] == "secret" and (a is None or b is None or a.digest != b.digest)
        out.append(FieldChange(f"{key[0]}s.{key[1]}", None if a is None else _placed(a),
                               None if b is None else _placed(b), secret=secret))
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
