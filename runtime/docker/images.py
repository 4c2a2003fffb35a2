"""Images on a Docker daemon: inspect, pull, build, load.

Role: the image half of the Docker driver, kept apart so that ``driver.py``
stays short. Functions take the shared low-level ``docker.APIClient`` (or, for
:func:`image_info`, the driver's unix-socket ``EngineClient``) and
return ``runtime.types.ImageInfo``; streamed progress is read to the end and
an error in the stream becomes ``ImageError`` with the tail of the log (the
daemon reports pull/build failures inside a 200 response). The pull *policy*
is the controller's business; :func:`pull` just pulls. Neighbours:
``runtime.docker.driver`` (delegates here), ``runtime.docker.convert``
(shared JSON helpers), ``runtime.docker.errors``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from runtime.docker import convert
from runtime.docker.errors import import_sdk, mapped_errors
from runtime.errors import ImageError, InvalidRequest, NotFound
from runtime.types import ImageInfo, pairs

LOG_TAIL = 20


def image_info(api: Any, ref: str) -> ImageInfo | None:
    """The local image behind a reference or id, or None when absent."""
    try:
        with mapped_errors(f"inspect image {ref}"):
            data = api.inspect_image(ref)
    except NotFound:
        return None
    return from_api(data)


def from_api(data: dict[str, Any]) -> ImageInfo:
    """``GET /images/{ref}/json`` -> the image and the defaults it gives containers."""
    cfg = data.get("Config") or {}
    return ImageInfo(
        id=data["Id"],
        refs=tuple(data.get("RepoTags") or ()) + tuple(data.get("RepoDigests") or ()),
        env=convert.env_list(cfg.get("Env")),
        command=convert.opt_tuple(cfg.get("Cmd")),
        entrypoint=convert.opt_tuple(cfg.get("Entrypoint")),
        workdir=cfg.get("WorkingDir") or "",
        user=cfg.get("User") or "",
        labels=pairs(cfg.get("Labels")),
        healthcheck=convert.healthcheck(cfg.get("Healthcheck")),
        stop_signal=cfg.get("StopSignal") or None,
        exposed_ports=tuple(sorted(cfg.get("ExposedPorts") or {})),
        volumes=tuple(sorted(cfg.get("Volumes") or {})),
    )


def _require(api: Any, ref: str, action: str) -> ImageInfo:
    info = image_info(api, ref)
    if info is None:
        raise ImageError(f"{action} {ref} finished but the image is not present")
    return info


def _drain(chunks: Iterable[dict[str, Any]], what: str, hint: str) -> list[str]:
    """Read a progress stream; raise ImageError on an error chunk. Returns the log lines."""
    tail: deque[str] = deque(maxlen=LOG_TAIL)
    lines: list[str] = []
    for chunk in chunks:
        if not isinstance(chunk, dict):
            continue
        error = chunk.get("error") or (chunk.get("errorDetail") or {}).get("message")
        if error:
            log = "".join(tail).rstrip()
            raise ImageError(
                f"{what} failed: {str(error).strip()}" + (f"\n{log}" if log else ""), hint=hint
            )
        text = chunk.get("stream") or chunk.get("status") or ""
        if text.strip():
            text = text if text.endswith("\n") else text + "\n"
            tail.append(text)
            lines.append(text)
    return lines


def pull(api: Any, ref: str) -> ImageInfo:
    """Pull ``ref`` (tag or digest; ``latest`` when neither) and return what arrived."""
    import_sdk()
    import docker.utils

    repository, tag = docker.utils.parse_repository_tag(ref)
    hint = "check the image reference and that the registry is reachable"
    try:
        with mapped_errors(f"pull image {ref}"):
            stream = api.pull(repository, tag=tag or "latest", stream=True, decode=True)
            _drain(stream, f"pull image {ref}", hint)
    except (NotFound, InvalidRequest) as exc:
        raise ImageError(f"pull image {ref} failed: {exc.message}", hint=hint) from exc
    return _require(api, ref, "pull of")


def build(
    api: Any,
    context: Path,
    tag: str,
    *,
    dockerfile: str | None = None,
    args: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> ImageInfo:
    """Build ``context`` into ``tag`` (intermediate containers always removed)."""
    what = f"build image {tag} from {context}"
    hint = "fix the Dockerfile or the build context"
    if not context.is_dir():
        raise ImageError(f"{what}: the build context is not a directory", hint=hint)
    if dockerfile and not (context / dockerfile).is_file() and not Path(dockerfile).is_file():
        raise ImageError(f"{what}: Dockerfile {dockerfile} not found", hint=hint)
    try:
        with mapped_errors(what):
            stream = api.build(
                path=str(context),
                tag=tag,
                dockerfile=dockerfile,
                buildargs=dict(args) if args else None,
                labels=dict(labels) if labels else None,
                rm=True,
                forcerm=True,
                decode=True,
            )
            _drain(stream, what, hint)
    except (NotFound, InvalidRequest) as exc:
        raise ImageError(f"{what} failed: {exc.message}", hint=hint) from exc
    return _require(api, tag, "build of")


def load(api: Any, archive: Path) -> list[str]:
    """Load a ``docker save`` archive; return the references (or ids) it carried."""
    what = f"load image archive {archive}"
    hint = "pass an archive written by `docker save`"
    try:
        handle = archive.open("rb")
    except OSError as exc:
        raise ImageError(f"{what}: {exc}", hint="check the archive path") from exc
    with handle:
        try:
            with mapped_errors(what):
                lines = _drain(api.load_image(handle), what, hint)
        except (NotFound, InvalidRequest) as exc:
            raise ImageError(f"{what} failed: {exc.message}", hint=hint) from exc
    refs: list[str] = []
    for line in lines:
        for prefix in ("Loaded image: ", "Loaded image ID: "):
            if line.startswith(prefix):
                refs.append(line[len(prefix) :].strip())
    if not refs:
        raise ImageError(f"{what}: the daemon reported no image loaded", hint=hint)
    return refs
