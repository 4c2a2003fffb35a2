"""Pulling images over the OCI distribution API (stdlib urllib only).

Role: given a ``Reference``, fetch its manifest (sending the full Accept list
and hashing the raw bytes: a digest ref must match; a tag's
``Docker-Content-Digest`` must too), resolve an index / manifest list to this
host's platform, fetch the config blob and stream every missing layer blob
into ``runtime.native.unpack`` with its digest and diff_id verified. Auth:
anonymous bearer tokens (on a 401, the ``WWW-Authenticate: Bearer realm=..,
service=..,scope=..`` challenge is answered with a token request). Loopback
registries (127.0.0.0/8, localhost, [::1]) are spoken to over http, all others
over https. Failures map onto ``runtime.errors``: network trouble, 429 and 5xx
-> ``Transient`` naming the registry; unknown manifests/blobs ->
``ImageNotFound``; anything else -> ``ImageError``. Neighbours:
``runtime.native.reference``, ``runtime.native.manifest``,
``runtime.native.unpack``; ``runtime.native.images`` stores the result.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.errors import ImageError, NotFound, RuntimeError_, Transient
from runtime.native.manifest import (
    ACCEPT,
    ZSTD_LAYER_TYPES,
    Descriptor,
    Manifest,
    choose_platform,
    diff_ids,
    index_entries,
    is_index,
    load_json,
    media_type_of,
    parse_manifest,
    sha256_digest,
)
from runtime.native.reference import Reference, is_local_registry
from runtime.native.unpack import Readable, unpack_layer

MAX_DOCUMENT = 8 << 20
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


class ImageNotFound(NotFound, ImageError):
    """The registry (or store) does not have this image, manifest or blob."""


@dataclass(frozen=True)
class Pulled:
    """What a pull fetched; layers are already unpacked into the layer directory."""

    ref: Reference
    config: bytes
    manifest: bytes
    manifest_digest: str
    index: bytes | None = None
    index_digest: str | None = None

    @property
    def id(self) -> str:
        return sha256_digest(self.config)


class RegistryClient:
    """One repository on one registry; caches its bearer token. Thread-safe for reads."""

    def __init__(self, ref: Reference, *, timeout: float = 30.0) -> None:
        self.ref = ref
        self.host = ref.api_host
        self.scheme = "http" if is_local_registry(self.host) else "https"
        self.timeout = timeout
        self._token: str | None = None
        handlers: list[urllib.request.BaseHandler] = []
        if self.scheme == "http":
            handlers.append(urllib.request.ProxyHandler({}))  # never proxy loopback
        self._opener = urllib.request.build_opener(*handlers)

    # HTTP ---------------------------------------------------------------------
    def _url(self, kind: str, reference: str) -> str:
        return f"{self.scheme}://{self.host}/v2/{self.ref.repository}/{kind}/{reference}"

    def _open(self, url: str, accept: str | None = None) -> http.client.HTTPResponse:
        for attempt in range(2):
            request = urllib.request.Request(url)
            if accept:
                request.add_header("Accept", accept)
            if self._token:  # unredirected: blob redirects to a CDN must not carry it
                request.add_unredirected_header("Authorization", f"Bearer {self._token}")
            try:
                response: http.client.HTTPResponse = self._opener.open(
                    request, timeout=self.timeout)
                return response
            except urllib.error.HTTPError as exc:
                challenge = exc.headers.get("WWW-Authenticate", "") if exc.headers else ""
                if exc.code == 401 and attempt == 0 and challenge.lower().startswith("bearer"):
                    self._token = self._fetch_token(challenge)
                    continue
                raise self._http_error(exc, url) from exc
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                raise self._unreachable(exc) from exc
        raise ImageError(f"registry {self.host} keeps refusing the token it issued for {url}",
                         hint="the registry's auth service is misconfigured")

    def _unreachable(self, exc: BaseException) -> Transient:
        reason = getattr(exc, "reason", exc)
        return Transient(
            f"registry {self.host} cannot be reached ({self.scheme}): {reason}",
            retry_after=5.0,
            hint=f"check that {self.host} is up and reachable from this host, or load the image"
            " from an archive (`docker save`) instead",
        )

    def _http_error(self, exc: urllib.error.HTTPError, url: str) -> RuntimeError_:
        detail = _registry_message(exc)
        where = f"registry {self.host}, {self.ref.repository}"
        if exc.code == 404:
            return ImageNotFound(f"{where}: {detail or 'not found'} ({url})",
                                 hint=f"check the image name and tag of {self.ref}")
        if exc.code in (401, 403):
            return ImageError(
                f"{where}: access denied ({exc.code}{': ' + detail if detail else ''})",
                hint="the repository is private or misspelled; only anonymous pulls are"
                " supported by the native runtime: `docker pull` + `docker save` it instead",
            )
        if exc.code == 429 or exc.code >= 500:
            retry = exc.headers.get("Retry-After", "") if exc.headers else ""
            return Transient(f"{where}: HTTP {exc.code} {detail}".rstrip(),
                             retry_after=float(retry) if retry.isdigit() else 10.0,
                             hint="the registry is busy or failing; will retry")
        return ImageError(f"{where}: HTTP {exc.code} {detail}".rstrip() + f" ({url})")

    def _fetch_token(self, challenge: str) -> str:
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        realm = params.pop("realm", "")
        if not realm:
            raise ImageError(f"registry {self.host}: bearer challenge without realm: {challenge}")
        params.setdefault("scope", f"repository:{self.ref.repository}:pull")
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(params)
        try:
            with self._opener.open(url, timeout=self.timeout) as response:
                body = response.read(MAX_DOCUMENT)
        except urllib.error.HTTPError as exc:
            raise ImageError(f"registry {self.host}: token request to {realm} failed: HTTP "
                             f"{exc.code} {_registry_message(exc)}".rstrip(),
                             hint="only anonymous pulls are supported") from exc
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise self._unreachable(exc) from exc
        doc = load_json(body, f"token from {realm}")
        token = doc.get("token") or doc.get("access_token")
        if not isinstance(token, str) or not token:
            raise ImageError(f"registry {self.host}: token response from {realm} has no token")
        return token

    # documents and blobs ------------------------------------------------------
    def manifest(self, reference: str) -> tuple[bytes, str, str]:
        """(raw bytes, media type, digest) of a manifest or index; digest refs are verified."""
        with self._open(self._url("manifests", reference), ACCEPT) as response:
            raw = _read_limited(response, MAX_DOCUMENT, f"manifest {reference}", self)
            content_type = response.headers.get("Content-Type")
            header_digest = response.headers.get("Docker-Content-Digest")
        digest = sha256_digest(raw)
        expected = reference if reference.startswith("sha256:") else header_digest
        if expected and expected.startswith("sha256:") and expected != digest:
            raise ImageError(
                f"registry {self.host}: manifest {self.ref.repository}@{reference} hashes to"
                f" {digest}, expected {expected}",
                hint="the registry served a different document than asked for; do not trust it",
            )
        return raw, media_type_of(load_json(raw, f"manifest {reference}"), content_type), digest

    def blob(self, desc: Descriptor, what: str) -> bytes:
        with self._open(self._url("blobs", desc.digest)) as response:
            data = _read_limited(response, MAX_DOCUMENT, what, self)
        if sha256_digest(data) != desc.digest or (desc.size >= 0 and len(data) != desc.size):
            raise ImageError(f"registry {self.host}: {what} does not match {desc.digest}",
                             hint="the registry served corrupt data; pull again")
        return data

    @contextmanager
    def open_blob(self, desc: Descriptor) -> Iterator[Readable]:
        with self._open(self._url("blobs", desc.digest)) as response:
            yield _NetStream(response, self)


class _NetStream:
    """A response body whose read errors become ``Transient`` naming the registry."""

    def __init__(self, response: http.client.HTTPResponse, client: RegistryClient) -> None:
        self._response = response
        self._client = client

    def read(self, n: int = -1, /) -> bytes:
        try:
            return self._response.read(n)
        except (OSError, http.client.HTTPException) as exc:
            raise self._client._unreachable(exc) from exc


def _read_limited(response: http.client.HTTPResponse, limit: int, what: str,
                  client: RegistryClient) -> bytes:
    data = _NetStream(response, client).read(limit + 1)
    if len(data) > limit:
        raise ImageError(f"registry {client.host}: {what} is larger than {limit} bytes")
    return data


def _registry_message(exc: urllib.error.HTTPError) -> str:
    try:
        doc: Any = json.loads(exc.read(65536) or b"{}")
        errors = doc.get("errors") if isinstance(doc, dict) else None
        if errors:
            return "; ".join(f"{e.get('code', '')}: {e.get('message', '')}" for e in errors)
    except (ValueError, OSError, AttributeError, http.client.HTTPException):
        pass
    return ""


def resolve(client: RegistryClient) -> tuple[Manifest, Pulled]:
    """Fetch the manifest (through an index when needed) and the config blob."""
    ref = client.ref
    raw, media_type, digest = client.manifest(ref.reference)
    index_raw: bytes | None = None
    index_digest: str | None = None
    doc = load_json(raw, f"manifest of {ref}")
    if is_index(media_type, doc):
        index_raw, index_digest = raw, digest
        chosen = choose_platform(index_entries(doc, f"index of {ref}"), f"{ref}")
        raw, media_type, digest = client.manifest(chosen.digest)
        if chosen.media_type:
            media_type = chosen.media_type
    manifest = parse_manifest(raw, media_type, f"manifest of {ref}")
    config = client.blob(manifest.config, f"config of {ref}")
    return manifest, Pulled(ref, config, raw, digest, index_raw, index_digest)


def pull(ref: Reference, layers_dir: Path, *, have_layer: Callable[[str], bool],
         workers: int = 3, timeout: float = 30.0) -> Pulled:
    """Fetch ``ref`` and unpack its missing layers into ``layers_dir``; see the module doc."""
    client = RegistryClient(ref, timeout=timeout)
    manifest, pulled = resolve(client)
    config = load_json(pulled.config, f"config of {ref}")
    ids = diff_ids(config, f"config of {ref}")
    if len(ids) != len(manifest.layers):
        raise ImageError(f"{ref}: manifest lists {len(manifest.layers)} layers but the config"
                         f" has {len(ids)} diff_ids", hint="the image is corrupt; push it again")
    todo: list[tuple[int, Descriptor, str]] = []
    for i, (layer, diff_id) in enumerate(zip(manifest.layers, ids, strict=True)):
        if not have_layer(diff_id) and all(diff_id != seen for _, _, seen in todo):
            todo.append((i, layer, diff_id))
    for _, layer, _ in todo:
        if layer.media_type in ZSTD_LAYER_TYPES:
            raise ImageError(f"{ref}: layer {layer.digest} is zstd-compressed, which this"
                             " runtime cannot unpack", hint="push the image with gzip layers")
        if layer.urls:
            raise ImageError(f"{ref}: layer {layer.digest} is a foreign layer served from"
                             f" {layer.urls[0]}", hint="foreign (non-distributable) layers are"
                             " not supported")

    def fetch(item: tuple[int, Descriptor, str]) -> None:
        index, layer, diff_id = item
        with client.open_blob(layer) as stream:
            unpack_layer(stream, layers_dir, diff_id, digest=layer.digest,
                         what=f"layer {index + 1}/{len(ids)} ({layer.digest}) of {ref}")

    if todo:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(todo)))) as pool:
            for _ in pool.map(fetch, todo):
                pass
    return pulled
