"""Image defaults: the config a container really gets from the image it is created from.

Role: the one place that says how an image's defaults (env, cmd, entrypoint,
workdir, user, labels, healthcheck, stop signal) fill a ``ContainerConfig``.
The rules are Docker's, checked against the daemon (its ``merge`` of the
user's and the image's config at create, and the ``docker run --entrypoint``
convention the Docker driver follows):

- entrypoint unset: the image's entrypoint, and the image's cmd when the
  command is unset or empty; entrypoint set, even empty: the image's cmd is
  dropped (the command is the config's, unset stays unset) and an empty
  entrypoint means none (the Docker driver sends it as ``[""]``, which the
  daemon stores as no entrypoint);
- env and labels: the image's entries, overridden key by key by the config's
  (an empty value overrides too); sorted pairs, as every driver reports them;
- workdir, user, stop signal: the config's when non-empty, else the image's,
  else ``None``;
- healthcheck: the config's, each unset (zero) part — test, interval,
  timeout, retries, start period — taken from the image's; a ``("NONE",)``
  test keeps the image's timings, as Docker reports them; no test at all
  means no healthcheck.

The Docker daemon applies these rules itself (so the Docker driver reports
them without calling this); the native runtime (``runtime.native.bundle``,
``containers``, ``view``) and the fake (``runtime.fake``) call :func:`merge`
to run and report containers the same way, and the controller
(``controller.planning.compare.expected``) calls it to know what a desired
config will look like once created. Neighbours: ``runtime.types`` only.
Pure.
"""

from __future__ import annotations

import dataclasses

from runtime.types import ContainerConfig, HealthSpec, ImageInfo, Pairs


def merge(config: ContainerConfig, image: ImageInfo) -> ContainerConfig:
    """``config`` with ``image``'s defaults filled in, as a runtime reports the container."""
    if config.entrypoint is None:
        entrypoint = image.entrypoint
        command = config.command if config.command else image.command
    else:
        entrypoint = config.entrypoint or None
        command = config.command
    return dataclasses.replace(
        config,
        command=command,
        entrypoint=entrypoint,
        env=overlay(image.env, config.env),
        workdir=config.workdir or image.workdir or None,
        user=config.user or image.user or None,
        labels=overlay(image.labels, config.labels),
        healthcheck=healthcheck(config.healthcheck, image.healthcheck),
        stop_signal=config.stop_signal or image.stop_signal or None,
    )


def overlay(base: Pairs, own: Pairs) -> Pairs:
    """``base`` entries overridden key by key by ``own``; sorted pairs."""
    merged = dict(base)
    merged.update(own)
    return tuple(sorted(merged.items()))


def healthcheck(own: HealthSpec | None, image: HealthSpec | None) -> HealthSpec | None:
    """The healthcheck a container runs: ``own``'s parts, the unset ones from ``image``."""
    if own is None:
        own, image = image, None
    if own is None:
        return None
    base = image if image is not None else HealthSpec(test=())
    test = own.test or base.test
    if not test:
        return None
    return HealthSpec(
        test=test,
        interval=own.interval or base.interval or None,
        timeout=own.timeout or base.timeout or None,
        retries=own.retries or base.retries or None,
        start_period=own.start_period or base.start_period or None,
    )
