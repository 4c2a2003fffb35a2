"""Reading image archives: ``docker save`` tars and OCI image layouts (dir or tar).

Role: list the images an archive holds (config bytes, refs, layer locations,
manifest bytes) and open their layer streams, verifying every digest the
format gives (config names, OCI blob digests); layer diff_ids are verified by
``runtime.native.unpack`` while unpacking. Formats: ``docker save``
(``manifest.json`` -> ``<hex>.json`` config + ``<hex>/layer.tar``, or Docker
25's ``blobs/sha256/...``; gzip'd layers are fine) and OCI layouts
(``oci-layout`` + ``index.json`` -> manifests, nested indexes resolved to this
host's platform). The archive itself may be gzip'd. Neighbours:
``runtime.native.manifest`` (parsing), ``runtime.native.images`` (the caller).
"""

from __future__ import annotations

import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from runtime.errors import ImageError, NotFound
from runtime.native.manifest import (
    Descriptor,
    choose_platform,
    index_entries,
    is_index,
    load_json,
    media_type_of,
    parse_manifest,
    sha256_digest,
)

MAX_JSON = 16 << 20
_HEX_NAME = re.compile(r"(?:^|/)([0-9a-f]{64})(?:\.json)?$")
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"


@dataclass(frozen=True)
class LayerEntry:
    path: str  # member name in the tar, or a path relative to the layout directory
    digest: str | None = None  # digest of the stored bytes, checked on unpack (OCI blobs)


@dataclass(frozen=True)
class ArchiveImage:
    config: bytes
    refs: tuple[str, ...]  # as written in the archive (unnormalised)
    layers: tuple[LayerEntry, ...]
    manifest: bytes | None = None  # OCI/Docker v2 manifest bytes, when the format has one

    @property
    def id(self) -> str:
        return sha256_digest(self.config)


class ImageArchive:
    """An open archive; use as a context manager. Not thread-safe: one reader at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tar: tarfile.TarFile | None = None
        self._members: dict[str, tarfile.TarInfo] = {}
        if path.is_dir():
            return
        try:
            self._tar = tarfile.open(path, "r:*")  # noqa: SIM115 - closed by close()
            for member in self._tar.getmembers():
                self._members[member.name.removeprefix("./").rstrip("/")] = member
        except FileNotFoundError as exc:
            raise NotFound(f"image archive {path} does not exist",
                           hint="check the path (relative paths are from the spec folder)"
                           ) from exc
        except (tarfile.TarError, OSError, EOFError) as exc:
            if self._tar is not None:
                self._tar.close()
            raise ImageError(
                f"{path} is not a readable tar archive: {exc}",
                hint="create it with `docker save -o FILE IMAGE` or as an OCI layout",
            ) from exc

    def __enter__(self) -> ImageArchive:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()
            self._tar = None

    def exists(self, name: str) -> bool:
        if self._tar is None:
            return (self.path / name).is_file()
        return name in self._members

    def open(self, name: str) -> IO[bytes]:
        """A stream of one member/file; ``ImageError`` when the archive lacks it."""
        name = name.removeprefix("./")
        if self._tar is None:
            target = (self.path / name).resolve()
            if not target.is_relative_to(self.path.resolve()):
                raise ImageError(f"{self.path}: {name!r} points outside the image layout")
            try:
                return target.open("rb")
            except OSError as exc:
                raise ImageError(f"{self.path}: cannot read {name!r}: {exc}",
                                 hint="the image layout is incomplete") from exc
        member = self._members.get(name)
        stream = self._tar.extractfile(member) if member is not None else None
        if stream is None:
            raise ImageError(f"{self.path}: the archive has no file {name!r}",
                             hint="the archive is incomplete; save the image again")
        return stream

    def read(self, name: str, digest: str | None = None) -> bytes:
        with self.open(name) as stream:
            data = stream.read(MAX_JSON + 1)
        if len(data) > MAX_JSON:
            raise ImageError(f"{self.path}: {name!r} is too large for an image document")
        if digest is not None and sha256_digest(data) != digest:
            raise ImageError(
                f"{self.path}: {name!r} has digest {sha256_digest(data)}, expected {digest}",
                hint="the archive is corrupt or was tampered with; save the image again",
            )
        return data

    def images(self) -> list[ArchiveImage]:
        """Every image in the archive, in archive order."""
        if self.exists("manifest.json"):
            return self._docker_images()
        if self.exists("index.json"):
            return self._oci_images()
        raise ImageError(
            f"{self.path} has neither manifest.json (docker save) nor index.json (OCI layout)",
            hint="create it with `docker save -o FILE IMAGE` or `skopeo copy ... oci-archive:FILE`",
        )

    # docker save -------------------------------------------------------------
    def _docker_images(self) -> list[ArchiveImage]:
        what = f"{self.path}: manifest.json"
        try:
            entries: Any = json.loads(self.read("manifest.json"))
        except ValueError as exc:
            raise ImageError(f"{what} is not valid JSON: {exc}") from exc
        if not isinstance(entries, list):
            raise ImageError(f"{what} is not a list of images")
        images = []
        for entry in entries:
            try:
                config_name = str(entry["Config"])
                layers = [str(layer) for layer in entry.get("Layers") or ()]
                refs = tuple(str(tag) for tag in entry.get("RepoTags") or ())
            except (KeyError, TypeError, AttributeError) as exc:
                raise ImageError(f"{what}: malformed entry {entry!r}") from exc
            match = _HEX_NAME.search(config_name)
            config = self.read(config_name, f"sha256:{match.group(1)}" if match else None)
            images.append(ArchiveImage(config, refs, tuple(LayerEntry(p) for p in layers)))
        return images

    # OCI layout ----------------------------------------------------------------
    def _blob(self, desc: Descriptor) -> str:
        algo, _, hex_ = desc.digest.partition(":")
        if algo != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", hex_):
            raise ImageError(f"{self.path}: unsupported digest {desc.digest!r}",
                             hint="only sha256 digests are supported")
        return f"blobs/sha256/{hex_}"

    def _oci_images(self) -> list[ArchiveImage]:
        what = f"{self.path}: index.json"
        if self.exists("oci-layout"):
            layout = load_json(self.read("oci-layout"), f"{self.path}: oci-layout")
            if layout.get("imageLayoutVersion") != "1.0.0":
                raise ImageError(f"{self.path}: unsupported OCI layout version "
                                 f"{layout.get('imageLayoutVersion')!r}")
        index = load_json(self.read("index.json"), what)
        images = []
        for top in index_entries(index, what):
            desc, raw = self._resolve(top, what, depth=0)
            manifest = parse_manifest(raw, desc.media_type or media_type_of(load_json(raw, what)),
                                      f"{self.path}: manifest {desc.digest}")
            config = self.read(self._blob(manifest.config), manifest.config.digest)
            layers = tuple(LayerEntry(self._blob(layer), layer.digest)
                           for layer in manifest.layers)
            images.append(ArchiveImage(config, _oci_refs(top), layers, raw))
        return images

    def _resolve(self, desc: Descriptor, what: str, depth: int) -> tuple[Descriptor, bytes]:
        """Follow nested indexes down to this host's image manifest."""
        raw = self.read(self._blob(desc), desc.digest)
        doc = load_json(raw, f"{self.path}: {desc.digest}")
        if not is_index(desc.media_type or media_type_of(doc), doc):
            return desc, raw
        if depth > 4:
            raise ImageError(f"{what}: indexes nested too deeply")
        chosen = choose_platform(index_entries(doc, what), f"{self.path}: index {desc.digest}")
        return self._resolve(chosen, what, depth + 1)


def _oci_refs(desc: Descriptor) -> tuple[str, ...]:
    full = desc.annotation(CONTAINERD_NAME)
    if full:
        return (full,)
    name = desc.annotation(REF_NAME)
    if name and ("/" in name or ":" in name):
        return (name,)  # a bare tag ("latest") names no repository: the image stays untagged
    return ()


