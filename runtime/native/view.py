"""How native containers look to the controller: records -> runtime value types.

Role: maps a container record onto ``ContainerSummary`` (one list row) and
``ContainerInfo`` (inspect) the way the Docker driver reports them, so that
one controller normalisation fits both runtimes: the image's defaults are
filled in by ``runtime.imagedefaults.merge`` (the rules the Docker daemon
applies: command, entrypoint, env, workdir, user, labels, healthcheck, stop
signal), ports and mounts are sorted, the default hostname (id prefix) reads
as unset, anonymous volumes (generated names, inherited ones included) are
listed as Docker's are.
Neighbours: ``driver``, ``records``, ``anonvols``, ``runtime.imagedefaults``,
``runtime.types``.
"""

from __future__ import annotations

import dataclasses

from runtime.imagedefaults import merge, overlay
from runtime.native.anonvols import reported
from runtime.native.records import Record
from runtime.types import (
    ContainerInfo,
    ContainerSummary,
    Health,
    ImageInfo,
    PortBinding,
    State,
)


def _state(text: str) -> State:
    try:
        return State(text)
    except ValueError:
        return State.DEAD


def _health(text: str) -> Health:
    try:
        return Health(text)
    except ValueError:
        return Health.NONE


def container_summary(rec: Record, image: ImageInfo | None = None) -> ContainerSummary:
    state = _state(rec.state)
    labels = overlay(image.labels if image else (), rec.config.labels)
    return ContainerSummary(
        id=rec.id,
        name=rec.name,
        image_id=rec.image_id,
        state=state,
        labels=labels,
        health=_health(rec.health) if rec.health_spec() else Health.NONE,
        exit_code=rec.exit_code if state in (State.EXITED, State.DEAD) else None,
    )


def _port_key(p: PortBinding) -> tuple[int, str, str, int]:
    return (p.container_port, p.protocol, p.host_ip, p.host_port or 0)


def container_info(rec: Record, image: ImageInfo) -> ContainerInfo:
    cfg = merge(rec.config, image)
    hostname = cfg.hostname if cfg.hostname and cfg.hostname != rec.id[:12] else None
    summary = container_summary(rec, image)
    config = dataclasses.replace(
        cfg,
        hostname=hostname,
        ports=tuple(sorted(cfg.ports, key=_port_key)),
        mounts=tuple(sorted(cfg.mounts, key=lambda m: m.target)),
        networks=tuple(
            dataclasses.replace(n, aliases=tuple(sorted(n.aliases))) for n in cfg.networks
        ),
    )
    return ContainerInfo(
        summary=summary,
        config=config,
        image_ref=rec.image_ref,
        restart_count=rec.restart_count,
        started_at=rec.started_at,
        ip_addresses=tuple(sorted(rec.ip_addresses)),
        host_ports=tuple(sorted(rec.host_ports, key=_port_key)),
        anonymous_volumes=reported(rec.mounts),
    )
