"""Image manifests and indexes (OCI and Docker v2): media types, parsing, platform choice.

Role: the JSON documents that name an image's config and layers, shared by
the two ways images arrive: ``runtime.native.distribution`` (registry pulls)
and ``runtime.native.archive`` (OCI layouts, ``docker save``). It turns raw
manifest bytes into ``Descriptor`` values and picks the host's platform
(linux/<arch>) out of an index or manifest list. Pure: no I/O. Neighbours:
those two modules; ``runtime.native.images`` stores what they return.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from typing import Any

from runtime.errors import ImageError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
ZSTD_LAYER_TYPES = ("application/vnd.oci.image.layer.v1.tar+zstd",)
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
         "armv7l": "arm", "armv6l": "arm", "i686": "386", "i386": "386",
         "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}
_VARIANT = {"armv7l": "v7", "armv6l": "v6"}


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    platform: tuple[str, str, str] | None = None  # (os, architecture, variant)

    def annotation(self, key: str) -> str | None:
        return dict(self.annotations).get(key)


@dataclass(frozen=True)
class Manifest:
    """An image manifest: the config blob and the layer blobs, bottom -> top."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def host_platform() -> tuple[str, str, str]:
    """(os, architecture, variant) of this host in OCI spelling, e.g. ("linux", "amd64", "")."""
    machine = platform.machine().lower()
    return "linux", _ARCH.get(machine, machine), _VARIANT.get(machine, "")


def load_json(raw: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImageError(f"{what} is not valid JSON: {exc}",
                         hint="the image source is corrupt; save, push or pull it again") from exc
    if not isinstance(doc, dict):
        raise ImageError(f"{what} is not a JSON object")
    return doc


def descriptor(doc: Any, what: str) -> Descriptor:
    try:
        plat = doc.get("platform")
        return Descriptor(
            media_type=str(doc.get("mediaType", "")),
            digest=str(doc["digest"]),
            size=int(doc.get("size", -1)),
            urls=tuple(str(u) for u in doc.get("urls") or ()),
            annotations=tuple(sorted((str(k), str(v))
                                     for k, v in (doc.get("annotations") or {}).items())),
            platform=(str(plat.get("os", "")), str(plat.get("architecture", "")),
                      str(plat.get("variant", ""))) if isinstance(plat, dict) else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ImageError(f"{what}: malformed descriptor {doc!r}") from exc


def media_type_of(doc: dict[str, Any], content_type: str | None = None) -> str:
    """The document's media type: its ``mediaType`` field, else the HTTP Content-Type."""
    declared = doc.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if content_type:
        return content_type.split(";")[0].strip()
    if doc.get("schemaVersion") == 1:
        return DOCKER_SCHEMA1
    return OCI_INDEX if "manifests" in doc else OCI_MANIFEST


def is_index(media_type: str, doc: dict[str, Any]) -> bool:
    return media_type in INDEX_TYPES or (media_type not in MANIFEST_TYPES and "manifests" in doc)


def index_entries(doc: dict[str, Any], what: str) -> list[Descriptor]:
    entries = doc.get("manifests")
    if not isinstance(entries, list):
        raise ImageError(f"{what}: index without a 'manifests' list")
    return [descriptor(entry, what) for entry in entries]


def choose_platform(entries: list[Descriptor], what: str) -> Descriptor:
    """The entry for this host's platform; ``ImageError`` listing what is offered otherwise."""
    os_, arch, variant = host_platform()
    candidates = [e for e in entries if e.platform and e.platform[:2] == (os_, arch)]
    if not candidates:
        untyped = [e for e in entries if e.platform is None and e.media_type in MANIFEST_TYPES]
        if len(entries) == 1 and untyped:
            return untyped[0]  # an unlabelled single-image index (common in OCI layouts)
        offered = sorted({"/".join(p for p in e.platform if p) for e in entries if e.platform})
        raise ImageError(
            f"{what} has no image for {os_}/{arch} (offers: {', '.join(offered) or 'none'})",
            hint=f"use an image built for {os_}/{arch}",
        )
    exact = [e for e in candidates if e.platform and e.platform[2] == variant]
    return (exact or candidates)[0]


def parse_manifest(raw: bytes, media_type: str, what: str) -> Manifest:
    """Parse an image manifest (not an index); ``ImageError`` for schema1 and malformed ones."""
    doc = load_json(raw, what)
    if media_type == DOCKER_SCHEMA1 or doc.get("schemaVersion") == 1:
        raise ImageError(
            f"{what} is an old Docker schema1 manifest, which is not supported",
            hint="re-push the image with a current Docker or registry",
        )
    if media_type not in MANIFEST_TYPES and "config" not in doc:
        raise ImageError(f"{what}: unexpected media type {media_type!r}")
    config = descriptor(doc.get("config"), what)
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise ImageError(f"{what}: manifest without a 'layers' list")
    return Manifest(media_type, config, tuple(descriptor(layer, what) for layer in layers))


def diff_ids(config: dict[str, Any], what: str) -> list[str]:
    """The config's ``rootfs.diff_ids`` (bottom -> top), validated."""
    rootfs = config.get("rootfs")
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ImageError(f"{what}: image config has no rootfs.diff_ids",
                         hint="this is not an image config; the image source is corrupt")
    return list(ids)
