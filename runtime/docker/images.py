"""Images on a Docker daemon: inspect, pull, build, load.

Role: the image half of the Docker driver, kept apart so that ``driver.py``
stays short. Functions take the driver's ``runtime.docker.engine.Engine`` and
return ``runtime.types.ImageInfo``; streamed progress is read to the end and
an error in the stream becomes ``ImageError`` with the tail of the log (the
daemon reports pull/build failures inside a 200 response). A build context is
sent as a tar of exactly the paths ``dwutil.dockerignore.walk`` lists (the ones
the controller's context digest covers); an archive is uploaded as it is. The
pull *policy* is the controller's business; :func:`pull` just pulls.
Neighbours: ``runtime.docker.driver`` (delegates here), ``runtime.docker.engine``
(the calls), ``runtime.docker.convert`` (shared JSON helpers),
``runtime.docker.errors``.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from dwutil import dockerignore
from runtime.docker import convert
from runtime.docker.engine import Engine
from runtime.docker.errors import mapped_errors
from runtime.docker.transport import Upload
from runtime.errors import ImageError, InvalidRequest, NotFound
from runtime.types import ImageInfo, pairs

LOG_TAIL = 20


def image_info(api: Engine, ref: str) -> ImageInfo | None:
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


def _require(api: Engine, ref: str, action: str) -> ImageInfo:
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


def split_reference(ref: str) -> tuple[str, str]:
    """``repo[:tag][@digest]`` -> (repository, tag or digest); ``latest`` when neither."""
    if "@" in ref:
        repository, digest = ref.split("@", 1)
        return repository, digest
    name, _, tag = ref.rpartition(":")
    if name and "/" not in tag:
        return name, tag
    return ref, "latest"


def pull(api: Engine, ref: str) -> ImageInfo:
    """Pull ``ref`` (tag or digest; ``latest`` when neither) and return what arrived."""
    repository, tag = split_reference(ref)
    hint = "check the image reference and that the registry is reachable"
    try:
        with mapped_errors(f"pull image {ref}"):
            stream = api.pull(repository, tag)
            try:
                _drain(stream, f"pull image {ref}", hint)
            finally:
                stream.close()
    except (NotFound, InvalidRequest) as exc:
        raise ImageError(f"pull image {ref} failed: {exc.message}", hint=hint) from exc
    return _require(api, ref, "pull of")


def context_tar(context: Path, dockerfile: str | None, into: IO[bytes]) -> str | None:
    """Write the build context as a tar into ``into``: the paths Docker's rules send
    (``.dockerignore`` applied). A Dockerfile outside the context is added under a
    name of its own; returns the Dockerfile's name inside the tar (None: default)."""
    import tarfile  # only for a build: it costs start-up time
    import uuid

    name = dockerignore.dockerfile_in_context(context, dockerfile) if dockerfile else None
    with tarfile.open(fileobj=into, mode="w") as tar:
        for rel, path in dockerignore.walk(context, dockerfile):
            tar.add(str(path), arcname=rel.rstrip("/"), recursive=False)
        if dockerfile and name is None:
            name = f".dockerfile.{uuid.uuid4().hex[:20]}"
            tar.add(str(context / dockerfile), arcname=name, recursive=False)
    into.seek(0)
    return name


def build(
    api: Engine,
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
    import tempfile

    with tempfile.TemporaryFile(prefix="dockwright-context-") as tar:
        try:
            name = context_tar(context, dockerfile, tar)
        except OSError as exc:
            raise ImageError(f"{what}: cannot read the build context: {exc}",
                             hint="check the permissions of the files in the context") from exc
        params: dict[str, Any] = {"t": tag, "rm": 1, "forcerm": 1, "dockerfile": name,
                                  "buildargs": dict(args) if args else None,
                                  "labels": dict(labels) if labels else None}
        upload = Upload(tar, os.fstat(tar.fileno()).st_size, "application/x-tar")
        try:
            with mapped_errors(what):
                stream = api.build(upload, {k: v for k, v in params.items() if v is not None})
                try:
                    _drain(stream, what, hint)
                finally:
                    stream.close()
        except (NotFound, InvalidRequest) as exc:
            raise ImageError(f"{what} failed: {exc.message}", hint=hint) from exc
    return _require(api, tag, "build of")


def load(api: Engine, archive: Path) -> list[str]:
    """Load a ``docker save`` archive; return the references (or ids) it carried."""
    what = f"load image archive {archive}"
    hint = "pass an archive written by `docker save`"
    try:
        handle = archive.open("rb")
        size = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        raise ImageError(f"{what}: {exc}", hint="check the archive path") from exc
    with handle:
        try:
            with mapped_errors(what):
                stream = api.load(Upload(handle, size, "application/x-tar"))
                try:
                    lines = _drain(stream, what, hint)
                finally:
                    stream.close()
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
