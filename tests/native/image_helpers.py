"""Shared helpers and fixtures of the native image-store tests.

Role: craft image archives with the stdlib ``tarfile`` (``entry``,
``tar_bytes``, ``docker_archive``, ``oci_archive``) and provide the fixtures
``api`` (a docker ``APIClient``), ``busybox_tar`` (a ``docker save`` archive
of the real busybox test image) and ``store`` (an empty ``ImageStore`` in a
temporary folder). Test modules import the ``*_fixture`` functions. Neighbours:
``tests/native/test_images.py``, ``tests/native/test_images_pull.py``,
``tests/images.py``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from runtime.native.images import ImageStore
from tests.images import busybox_image, save_image


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", *, mode: int = 0o644,
          uid: int = 0, gid: int = 0, link: str = "", pax: dict[str, str] | None = None,
          ) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid, info.gid = uid, gid
    info.mtime = 1_700_000_000
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    if pax:
        info.pax_headers = pax
    return info, data


def tar_bytes(*entries: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def image_config(layers: list[bytes], **config: Any) -> bytes:
    return json.dumps({
        "architecture": "amd64", "os": "linux", "config": config,
        "rootfs": {"type": "layers", "diff_ids": [sha256(layer) for layer in layers]},
    }).encode()


def docker_archive(path: Path, layers: list[bytes], refs: list[str], *,
                   gzipped: frozenset[int] = frozenset(), diff_ids: list[str] | None = None,
                   **config: Any) -> str:
    """Write a ``docker save``-style archive; return the image id.

    A layer equal to an earlier one is stored as a symlink to it, as ``docker save`` does.
    """
    cfg = image_config(layers, **config)
    if diff_ids is not None:
        doc = json.loads(cfg)
        doc["rootfs"]["diff_ids"] = diff_ids
        cfg = json.dumps(doc).encode()
    members = [entry(f"{sha256(cfg)[7:]}.json", data=cfg)]
    names: list[str] = []
    for i, layer in enumerate(layers):
        names.append(f"l{i}/layer.tar")
        if layer in layers[:i]:
            first = layers.index(layer)
            members.append(entry(names[-1], tarfile.SYMTYPE, link=f"../l{first}/layer.tar"))
        else:
            members.append(entry(names[-1], data=gzip.compress(layer) if i in gzipped else layer))
    manifest = [{"Config": members[0][0].name, "RepoTags": refs, "Layers": names}]
    members.append(entry("manifest.json", data=json.dumps(manifest).encode()))
    path.write_bytes(tar_bytes(*members))
    return sha256(cfg)


def oci_archive(path: Path, layers: list[bytes], ref_name: str, **config: Any) -> str:
    """Write an OCI image layout tar (gzip'd layers, a nested index); return the image id."""
    cfg = image_config(layers, **config)
    blobs = {sha256(cfg): cfg}
    descs = []
    for layer in layers:
        gz = gzip.compress(layer)
        blobs[sha256(gz)] = gz
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                      "digest": sha256(gz), "size": len(gz)})
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256(cfg), "size": len(cfg)},
        "layers": descs}).encode()
    blobs[sha256(manifest)] = manifest
    inner = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                       "digest": sha256(manifest), "size": len(manifest),
                                       "platform": {"os": "linux", "architecture": "amd64"}}]}
                       ).encode()
    blobs[sha256(inner)] = inner
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha256(inner),
        "size": len(inner), "annotations": {"org.opencontainers.image.ref.name": ref_name}}]}
    members = [entry("oci-layout", data=b'{"imageLayoutVersion": "1.0.0"}'),
               entry("index.json", data=json.dumps(index).encode())]
    members += [entry(f"blobs/sha256/{d[7:]}", data=b) for d, b in blobs.items()]
    path.write_bytes(tar_bytes(*members))
    return sha256(cfg)


def store_is_clean(store: ImageStore) -> bool:
    """No layers, images or leftovers of an interrupted load."""
    return not any(store.layers.iterdir()) and not any(store.records.iterdir())


@pytest.fixture(name="api", scope="module")
def api_fixture() -> Iterator[Any]:
    client = docker.APIClient(version="auto", timeout=300)
    yield client
    client.close()


@pytest.fixture(name="busybox_tar", scope="module")
def busybox_tar_fixture(api: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    busybox_image(api)
    return save_image("dockwright-test/busybox:latest",
                      tmp_path_factory.mktemp("save") / "busybox.tar", api)


@pytest.fixture(name="store")
def store_fixture(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "images")
