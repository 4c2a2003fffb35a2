"""The native runtime's image store: content-addressed, shared, safe for concurrent use.

Role: keep images without a daemon. Layout under ``root`` (``<state_dir>/images``):

- ``blobs/sha256/<hex>``: configs, manifests and indexes, content-addressed;
- ``layers/<diffid-hex>/``: unpacked layers, each an overlayfs lowerdir shared by
  every image and container that uses it (never modified once renamed in);
- ``images/<hex>.json``: one record per image (config digest = image id) with
  the manifest/index digests it came with;
- ``refs.json``: ref (familiar form, e.g. ``busybox:latest``,
  ``127.0.0.1:5000/x/y@sha256:..``) -> image id.

Every file is written to a temporary name and renamed. ``store.lock`` is held
shared by loads and pulls (which may run in parallel: layers are unpacked into
private temporary directories and renamed atomically) and exclusively by
``remove``/``prune``; ``refs.lock`` serialises updates of ``refs.json``. Image
data is only deleted by ``prune(keep=...)``, to which the driver passes the
image ids its containers still use.

Neighbours: ``runtime.native.archive`` (archives), ``runtime.native.distribution``
(registry pulls), ``runtime.native.unpack`` (layers), ``runtime.native.reference``
(ref keys); ``runtime.native.driver`` composes this store.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dwutil.atomic import write_atomic
from dwutil.lock import locked
from runtime.errors import ImageError, InvalidRequest
from runtime.native import distribution
from runtime.native.archive import ImageArchive
from runtime.native.distribution import ImageNotFound
from runtime.native.manifest import diff_ids, load_json, sha256_digest
from runtime.native.reference import parse_reference
from runtime.native.unpack import unpack_layer
from runtime.types import HealthSpec, ImageInfo, pairs

_ID = re.compile(r"^(?:sha256:)?([0-9a-f]{12,64})$")


@dataclass(frozen=True)
class StoredImage:
    id: str  # "sha256:<hex>" of the config
    refs: tuple[str, ...]
    info: ImageInfo
    layers: tuple[Path, ...]  # unpacked layer dirs, bottom -> top, each once (overlay lowerdirs)
    config: dict[str, Any] = field(compare=False)  # the OCI image config JSON


class ImageStore:
    """Images on disk under ``root``; every method is safe across threads and processes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blobs = self.root / "blobs" / "sha256"
        self.layers = self.root / "layers"
        self.records = self.root / "images"
        try:
            for path in (self.blobs, self.layers, self.records):
                path.mkdir(parents=True, exist_ok=True)
            os.chmod(self.layers, 0o755)
        except OSError as exc:
            raise ImageError(f"cannot create the image store at {self.root}: {exc}",
                             hint="run as root, or choose a writable state folder") from exc

    # public API -----------------------------------------------------------------
    def load_archive(self, path: Path) -> list[str]:
        """Load every image of a ``docker save`` / OCI archive; return their refs (ids if none)."""
        loaded: list[tuple[str, list[str]]] = []
        with self._lock("store.lock", shared=True), ImageArchive(Path(path)) as archive:
            for image in archive.images():
                what = f"image {image.id[:19]} from {path}"
                config = load_json(image.config, f"config of {what}")
                ids = diff_ids(config, f"config of {what}")
                if len(ids) != len(image.layers):
                    raise ImageError(f"{what}: {len(image.layers)} layers but {len(ids)} diff_ids"
                                     " in its config", hint="the archive is corrupt")
                for n, (entry, diff_id) in enumerate(zip(image.layers, ids, strict=True)):
                    if self._has_layer(diff_id):
                        continue
                    with archive.open(entry.path) as stream:
                        unpack_layer(stream, self.layers, diff_id, digest=entry.digest,
                                     what=f"layer {n + 1}/{len(ids)} ({entry.path}) of {what}")
                self._write_blob(image.config)
                manifest = self._write_blob(image.manifest) if image.manifest else None
                self._write_record(image.id, manifest=manifest)
                loaded.append((image.id, [self._key(ref, what) for ref in image.refs]))
            with self._lock("refs.lock"):  # still under store.lock: no prune
                refs = self._read_refs()
                for image_id, keys in loaded:
                    refs.update(dict.fromkeys(keys, image_id))
                self._write_refs(refs)
        return [key for image_id, keys in loaded for key in (keys or [image_id])]

    def pull(self, ref: str) -> StoredImage:
        """Pull ``ref`` from its registry (missing layers only) and tag it locally."""
        parsed = parse_reference(ref)
        with self._lock("store.lock", shared=True):
            pulled = distribution.pull(parsed, self.layers, have_layer=self._has_layer)
            self._write_blob(pulled.config)
            self._write_blob(pulled.manifest)
            if pulled.index is not None:
                self._write_blob(pulled.index)
            self._write_record(pulled.id, manifest=pulled.manifest_digest,
                               index=pulled.index_digest)
            repo_digest = parsed.with_digest(pulled.index_digest or pulled.manifest_digest)
            with self._lock("refs.lock"):
                refs = self._read_refs()
                refs[parsed.familiar()] = pulled.id
                refs[repo_digest.familiar()] = pulled.id
                self._write_refs(refs)
        image = self.get(pulled.id)
        if image is None:
            raise ImageError(f"{ref}: pulled image {pulled.id} vanished from {self.root}",
                             hint="another process pruned the image store meanwhile; pull again")
        return image

    def get(self, ref_or_id: str) -> StoredImage | None:
        """The complete image behind a ref or an id (full or >= 12 hex digits), else None."""
        refs = self._read_refs()
        image_id = None
        with suppress(InvalidRequest):
            image_id = refs.get(parse_reference(ref_or_id).familiar())
        if image_id is None:
            image_id = self._match_id(ref_or_id)
        if image_id is None:
            return None
        return self._load(image_id, refs)

    def images(self) -> list[StoredImage]:
        """Every complete image in the store."""
        refs = self._read_refs()
        images = (self._load("sha256:" + p.stem, refs) for p in sorted(self.records.glob("*.json")))
        return [image for image in images if image is not None]

    def remove(self, ref: str) -> None:
        """Untag ``ref`` (or every ref of an image id); an image left without refs is dropped.

        Its layers and blobs stay until ``prune``. ``ImageNotFound`` when nothing matches.
        """
        with self._lock("store.lock"), self._lock("refs.lock"):
            refs = self._read_refs()
            try:
                key: str | None = parse_reference(ref).familiar()
            except InvalidRequest:
                key = None
            if key is not None and key in refs:
                image_id = refs.pop(key)
            else:
                found = self._match_id(ref)
                if found is None:
                    raise ImageNotFound(f"no image {ref!r} in {self.root}",
                                        hint="list images to see what is present")
                image_id = found
                refs = {k: v for k, v in refs.items() if v != image_id}
            self._write_refs(refs)
            if image_id not in refs.values():
                (self.records / f"{image_id.removeprefix('sha256:')}.json").unlink(missing_ok=True)

    def prune(self, keep: Iterable[str] = ()) -> list[str]:
        """Delete untagged images not in ``keep`` (ids), then every layer/blob no image uses.

        Returns the removed image ids. Also clears leftovers of interrupted loads.
        """
        removed: list[str] = []
        with self._lock("store.lock"), self._lock("refs.lock"):
            refs = self._read_refs()
            live = set(refs.values()) | {i if i.startswith("sha256:") else f"sha256:{i}"
                                         for i in keep}
            for record in self.records.iterdir():
                image_id = "sha256:" + record.name.removesuffix(".json")
                if image_id not in live:
                    record.unlink()
                    removed.append(image_id)
            live_layers: set[str] = set()
            live_blobs: set[str] = set()
            for image_id in live:
                hex_ = image_id.removeprefix("sha256:")
                digests = self._read_record(hex_)
                live_blobs.add(hex_)
                live_blobs.update(d.removeprefix("sha256:") for d in digests.values() if d)
                try:
                    config = load_json((self.blobs / hex_).read_bytes(), image_id)
                    live_layers.update(d.removeprefix("sha256:") for d in diff_ids(config, hex_))
                except (OSError, ImageError):
                    continue
            for path in self.layers.iterdir():
                if path.name not in live_layers:
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
            for path in self.blobs.iterdir():
                if path.name not in live_blobs:
                    path.unlink()
        return removed

    # internals ----------------------------------------------------------------
    @contextmanager
    def _lock(self, name: str, *, shared: bool = False) -> Iterator[None]:
        with locked(self.root / name, shared=shared):
            yield

    def _key(self, ref: str, what: str) -> str:
        try:
            return parse_reference(ref).familiar()
        except InvalidRequest as exc:
            raise ImageError(f"{what}: invalid reference {ref!r} in the archive",
                             hint="fix the tag and save the image again") from exc

    def _has_layer(self, diff_id: str) -> bool:
        return (self.layers / diff_id.removeprefix("sha256:")).is_dir()

    def _atomic_write(self, path: Path, data: bytes) -> None:
        try:
            write_atomic(path, data, mode=0o644)
        except OSError as exc:
            raise ImageError(f"cannot write {path}: {exc}",
                             hint="check free space and permissions of the state folder") from exc

    def _write_blob(self, data: bytes) -> str:
        digest = sha256_digest(data)
        path = self.blobs / digest.removeprefix("sha256:")
        if not path.exists():
            self._atomic_write(path, data)
        return digest

    def _write_record(self, image_id: str, **digests: str | None) -> None:
        hex_ = image_id.removeprefix("sha256:")
        old = self._read_record(hex_)
        merged = {k: v or old.get(k) for k, v in digests.items()}
        if merged != old:
            self._atomic_write(self.records / f"{hex_}.json", json.dumps(merged).encode())

    def _read_record(self, hex_: str) -> dict[str, str | None]:
        try:
            doc = json.loads((self.records / f"{hex_}.json").read_bytes())
        except (OSError, ValueError):
            return {}
        return {str(k): (str(v) if v else None) for k, v in doc.items()} if isinstance(
            doc, dict) else {}

    def _read_refs(self) -> dict[str, str]:
        try:
            doc = json.loads((self.root / "refs.json").read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ImageError(f"image store {self.root}: refs.json is unreadable: {exc}",
                             hint=f"remove {self.root / 'refs.json'} and load/pull the images"
                             " again") from exc
        return {str(k): str(v) for k, v in doc.items()} if isinstance(doc, dict) else {}

    def _write_refs(self, refs: dict[str, str]) -> None:
        self._atomic_write(self.root / "refs.json", json.dumps(refs, sort_keys=True).encode())

    def _match_id(self, text: str) -> str | None:
        match = _ID.match(text.strip())
        if not match:
            return None
        prefix = match.group(1)
        hits = [p.stem for p in self.records.glob(f"{prefix}*.json")]
        return f"sha256:{hits[0]}" if len(hits) == 1 else None

    def _load(self, image_id: str, refs: dict[str, str]) -> StoredImage | None:
        hex_ = image_id.removeprefix("sha256:")
        if not (self.records / f"{hex_}.json").exists():
            return None
        try:
            config = load_json((self.blobs / hex_).read_bytes(), f"config {image_id}")
            layers = tuple(self.layers / d.removeprefix("sha256:") for d in diff_ids(config, hex_))
        except (OSError, ImageError):
            return None  # incomplete: a load or pull will repair it
        if not all(layer.is_dir() for layer in layers):
            return None
        # overlayfs refuses a lowerdir given twice (ELOOP); an image may repeat a layer
        # (empty ones often). Only the topmost copy matters: drop the lower ones.
        layers = tuple(p for i, p in enumerate(layers) if p not in layers[i + 1:])
        own = tuple(sorted(k for k, v in refs.items() if v == image_id))
        return StoredImage(image_id, own, image_info(image_id, own, config), layers, config)


def _seconds(value: Any) -> float | None:
    return value / 1e9 if isinstance(value, int | float) and value > 0 else None


def image_info(image_id: str, refs: tuple[str, ...], config: dict[str, Any]) -> ImageInfo:
    """Map an OCI/Docker image config onto ``runtime.types.ImageInfo`` (ns -> seconds)."""
    c = config.get("config") or {}
    env = tuple((k, v) for k, _, v in (str(e).partition("=") for e in c.get("Env") or ()))
    health = None
    hc = c.get("Healthcheck")
    if isinstance(hc, dict) and hc.get("Test"):
        health = HealthSpec(
            test=tuple(str(t) for t in hc["Test"]),
            interval=_seconds(hc.get("Interval")),
            timeout=_seconds(hc.get("Timeout")),
            retries=int(hc["Retries"]) if hc.get("Retries") else None,
            start_period=_seconds(hc.get("StartPeriod")),
        )
    cmd, entrypoint = c.get("Cmd"), c.get("Entrypoint")
    return ImageInfo(
        id=image_id,
        refs=refs,
        env=env,
        command=tuple(str(a) for a in cmd) if cmd is not None else None,
        entrypoint=tuple(str(a) for a in entrypoint) if entrypoint is not None else None,
        workdir=str(c.get("WorkingDir") or ""),
        user=str(c.get("User") or ""),
        labels=pairs({str(k): str(v) for k, v in (c.get("Labels") or {}).items()}),
        healthcheck=health,
        stop_signal=str(c["StopSignal"]) if c.get("StopSignal") else None,
        exposed_ports=tuple(sorted(str(p) for p in c.get("ExposedPorts") or {})),
        volumes=tuple(sorted(str(v) for v in c.get("Volumes") or {})),
    )
