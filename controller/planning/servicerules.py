"""Per-field comparison of a desired Swarm service with the live one: the service rule table.

Role: :data:`RULES` gives every ``runtime.swarm.spec.ServiceSpec`` field a
``controller.planning.fieldrules.Row`` (the same comparators as the container
table, ``controller.planning.compare``): env values of secret keys masked,
volatile service labels (spec hash, revision, source file) skipped, network
aliases per network, nested restart/resources/placement/update/rollback
policies compared field by field, the stop grace period as a quantity with
Swarm's 10 s default. ``Update.IN_PLACE`` marks what Swarm changes without
replacing tasks (replicas, service labels, update and rollback policies:
swarmkit's ``IsTaskDirty`` looks only at the task template and the endpoint);
``Update.RECREATE`` marks a rolling replacement of the tasks. The live side is
already normalised (``runtime.swarm.convert.from_api``: server defaults, network
names, canonical image), so equal services compare equal and a second ``apply``
sends nothing. Neighbours: ``controller.planning.fieldrules`` (the machinery),
``controller.planning.services`` (the caller). Pure.
"""

from __future__ import annotations

from typing import Any

from controller.desired.service import VOLATILE, DesiredService
from controller.planning.diff import FieldChange
from controller.planning.fieldrules import Kind, Row, Sides, Update, diff, in_place
from runtime.swarm.spec import FileRef, ServicePort, ServiceSpec
from runtime.types import HealthSpec, MountSpec, NetworkAttach, UlimitSpec

IN_PLACE = Update.IN_PLACE


def _args(value: tuple[str, ...] | None) -> list[str] | None:
    return None if not value else list(value)


def _text(value: str | None) -> str | None:
    return value or None


def _health(h: HealthSpec | None) -> str | None:
    if h is None:
        return None
    parts = [f"test={list(h.test)}"]
    for key in ("interval", "timeout", "retries", "start_period"):
        value = getattr(h, key)
        if value:
            parts.append(f"{key}={value:g}")
    return " ".join(parts)


def _mount(m: MountSpec) -> str:
    text = f"{m.type}:{m.source or ''}:{m.target}{':ro' if m.read_only else ''}"
    return text + (f":size={m.size}" if m.size else "")


def _files(value: tuple[FileRef, ...]) -> dict[str, str]:
    """Secrets and configs by target: the object (named by a keyed digest, never the
    content) and the file's owner and mode."""
    return {f"{f.kind}:{f.target}": f"{f.name} ({f.uid}:{f.gid} {f.mode:o})" for f in value}


def _port(p: ServicePort) -> str:
    published = f"{p.published}:" if p.published else ""
    return f"{published}{p.target}/{p.protocol} ({p.mode})"


def _ulimit(u: UlimitSpec) -> str:
    return f"{u.name}={u.soft}:{u.hard}"


def _aliases(value: tuple[NetworkAttach, ...]) -> dict[str, list[str]]:
    return {n.network: sorted(n.aliases) for n in value}


def _service_labels(value: Any) -> dict[str, str]:
    return {k: v for k, v in value if k not in VOLATILE}


def _policy_rows(update: Update) -> dict[str, Row]:
    return {name: Row(Kind.STRICT, update) for name in (
        "parallelism", "delay", "failure_action", "monitor", "max_failure_ratio", "order")}


RULES: dict[str, Row] = {
    "name": Row(Kind.IGNORE),  # the live service was found by it
    "image": Row(Kind.STRICT),
    "labels": Row(Kind.KEYS, IN_PLACE, entries=_service_labels),
    "container_labels": Row(Kind.KEYS),
    "command": Row(Kind.STRICT, display=_args),
    "entrypoint": Row(Kind.STRICT, display=_args),
    "env": Row(Kind.KEYS, masked=True),
    "workdir": Row(Kind.STRICT, display=_text),
    "user": Row(Kind.STRICT, display=_text),
    "hostname": Row(Kind.STRICT, display=_text),
    "tty": Row(Kind.STRICT),
    "stdin_open": Row(Kind.STRICT),
    "stop_signal": Row(Kind.STRICT, display=_text),
    "stop_grace": Row(Kind.QUANTITY, unit="s", default=10.0),
    "healthcheck": Row(Kind.STRICT, display=_health),
    "mounts": Row(Kind.SET, display=_mount),
    "files": Row(Kind.KEYS, entries=_files),
    "networks": Row(Kind.KEYS, entries=_aliases, member="aliases"),
    "restart": Row(Kind.NESTED, rows={name: Row(Kind.STRICT) for name in (
        "condition", "delay", "max_attempts", "window")}),
    "resources": Row(Kind.NESTED, rows={name: Row(Kind.STRICT) for name in (
        "memory", "cpus", "pids", "reserve_memory", "reserve_cpus")}),
    "placement": Row(Kind.NESTED, rows={"constraints": Row(Kind.SET),
                                        "preferences": Row(Kind.STRICT),
                                        "max_per_node": Row(Kind.STRICT)}),
    "mode": Row(Kind.STRICT),  # replicated <-> global: Swarm refuses it, a new service
    "replicas": Row(Kind.STRICT, IN_PLACE),
    "update": Row(Kind.NESTED, IN_PLACE, rows=_policy_rows(IN_PLACE)),
    "rollback": Row(Kind.NESTED, IN_PLACE, rows=_policy_rows(IN_PLACE)),
    "endpoint_mode": Row(Kind.STRICT),
    "ports": Row(Kind.SET, display=_port),
    "force_update": Row(Kind.IGNORE),  # a counter: the live one is sent back as it is
    "init": Row(Kind.STRICT),
    "cap_add": Row(Kind.SET),
    "cap_drop": Row(Kind.SET),
    "sysctls": Row(Kind.KEYS),
    "read_only": Row(Kind.STRICT),
    "extra_hosts": Row(Kind.KEYS),
    "dns": Row(Kind.STRICT),
    "dns_search": Row(Kind.STRICT),
    "dns_opt": Row(Kind.STRICT),
    "group_add": Row(Kind.SET),
    "ulimits": Row(Kind.SET, display=_ulimit),
    "log_driver": Row(Kind.STRICT),
    "log_options": Row(Kind.KEYS),
}


def compare(desired: DesiredService, live: ServiceSpec) -> list[FieldChange]:
    """Field changes from the live service to the desired one (empty: in sync)."""
    sides = Sides(want=desired.spec, have=live, spec=desired.spec, defaults="swarm",
                  secrets=desired.secret_keys)
    return diff(RULES, sides)


def restarts_tasks(changes: list[FieldChange]) -> bool:
    """Whether Swarm replaces the tasks to make these changes (a rolling update)."""
    return any(not in_place(RULES, c.field) for c in changes)
