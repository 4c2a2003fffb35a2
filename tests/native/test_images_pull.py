"""Pulling into the native image store from a real registry on 127.0.0.1.

Role: tests of ``runtime.native.distribution`` through ``ImageStore.pull``
against Debian's ``docker-registry`` (the session ``registry`` fixture of
``tests/conftest.py``): pulls by tag and by digest, layer reuse with archive
loads, a Docker manifest list resolved to the host's platform, unknown tags,
an unreachable registry, and anonymous bearer-token auth through a small
token gate in front of the real registry. Pushed tags are removed afterwards.
Neighbours: ``tests/registry.py`` (registry, ``push``),
``tests/native/image_helpers.py`` (fixtures).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from runtime.errors import ImageError, NotFound, Transient
from runtime.native.images import ImageStore
from tests.native.image_helpers import (
    api_fixture,
    busybox_tar_fixture,
    sha256,
    store_fixture,
    store_is_clean,
)
from tests.registry import push

pytestmark = pytest.mark.native
FIXTURES = (api_fixture, busybox_tar_fixture, store_fixture)  # used by name


DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def registry_manifest(address: str, repo: str, ref: str) -> tuple[str, int]:
    """(digest, size) of a pushed manifest, asked with the Docker v2 media type."""
    request = urllib.request.Request(f"http://{address}/v2/{repo}/manifests/{ref}",
                                     headers={"Accept": DOCKER_V2})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    return sha256(body), len(body)


def put_manifest_list(address: str, repo: str, tag: str,
                      entries: list[tuple[str, int, str]]) -> str:
    """PUT a Docker manifest list of (digest, size, arch) entries; return its digest."""
    body = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [
        {"mediaType": DOCKER_V2, "digest": d, "size": s,
         "platform": {"os": "linux", "architecture": arch}} for d, s, arch in entries]}).encode()
    request = urllib.request.Request(f"http://{address}/v2/{repo}/manifests/{tag}", data=body,
                                     method="PUT", headers={"Content-Type": DOCKER_LIST})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
    return sha256(body)


@pytest.fixture
def pushed(api: Any, registry: str, busybox_tar: Path) -> Iterator[tuple[str, str]]:
    """(``ADDR/dwtest/busybox:TAG`` pushed to the registry, local busybox image id)."""
    target = push(api, "dockwright-test/busybox:latest",
                  f"{registry}/dwtest/busybox:{uuid.uuid4().hex[:8]}")
    try:
        yield target, api.inspect_image("dockwright-test/busybox:latest")["Id"]
    finally:
        api.remove_image(target)  # untags only: the test image stays


def test_pull_by_tag_and_digest(busybox_tar: Path, store: ImageStore,
                                pushed: tuple[str, str]) -> None:
    target, image_id = pushed
    image = store.pull(target)
    assert image.id == image_id
    assert (image.layers[0] / "bin" / "busybox").is_file()
    assert os.readlink(image.layers[1] / "bin" / "sh") == "/bin/busybox"
    address = target.partition("/")[0]
    digest, _ = registry_manifest(address, "dwtest/busybox", target.rpartition(":")[2])
    by_digest = f"{target.rpartition(':')[0]}@{digest}"
    assert sorted(image.refs) == sorted([target, by_digest])
    assert store.get(by_digest) == image
    again = store.pull(by_digest)  # verified against the digest, layers already there
    assert again.id == image.id and again.layers == image.layers
    blob_names = {p.name for p in store.blobs.iterdir()}
    assert {digest[7:], image_id[7:]} <= blob_names


def test_pull_reuses_layers_loaded_from_an_archive(busybox_tar: Path, store: ImageStore,
                                                   pushed: tuple[str, str]) -> None:
    store.load_archive(busybox_tar)
    loaded = store.get("dockwright-test/busybox:latest")
    assert loaded is not None
    inodes = [layer.stat().st_ino for layer in loaded.layers]
    image = store.pull(pushed[0])
    assert image.layers == loaded.layers
    assert [layer.stat().st_ino for layer in image.layers] == inodes  # not unpacked again
    assert set(image.refs) >= {"dockwright-test/busybox:latest", pushed[0]}


def test_pull_picks_the_host_platform_from_a_manifest_list(
        api: Any, store: ImageStore, pushed: tuple[str, str], tmp_path: Path) -> None:
    target, image_id = pushed
    address = target.partition("/")[0]
    repo, tag = "dwtest/busybox", target.rpartition(":")[2]
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "f").write_text("other")
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY f /f\n")
    other = f"dwt-other-{uuid.uuid4().hex[:8]}:1"
    for chunk in api.build(path=str(ctx), tag=other, rm=True, decode=True):
        assert "error" not in chunk, chunk
    other_target = f"{address}/{repo}:{tag}-other"
    try:
        push(api, other, other_target)
        own = registry_manifest(address, repo, tag)
        foreign = registry_manifest(address, repo, f"{tag}-other")
        list_digest = put_manifest_list(address, repo, f"{tag}-list",
                                        [(*foreign, "arm64"), (*own, "amd64")])
        image = store.pull(f"{address}/{repo}:{tag}-list")
        assert image.id == image_id
        assert f"{address}/{repo}@{list_digest}" in image.refs
        put_manifest_list(address, repo, f"{tag}-arm", [(*foreign, "arm64")])
        with pytest.raises(ImageError, match="no image for linux/amd64"):
            store.pull(f"{address}/{repo}:{tag}-arm")
    finally:
        for ref in (other_target, other):
            with contextlib.suppress(docker.errors.APIError):
                api.remove_image(ref)


def test_pull_unknown_tag_is_not_found(store: ImageStore, registry: str) -> None:
    with pytest.raises(NotFound, match=r"MANIFEST_UNKNOWN|not found") as caught:
        store.pull(f"{registry}/dwtest/nothing-{uuid.uuid4().hex[:8]}:1")
    assert isinstance(caught.value, ImageError) and "check the image name" in str(caught.value)


class _TokenFront(http.server.BaseHTTPRequestHandler):
    """A bearer-token gate in front of the real registry (``server.upstream``)."""

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        server: Any = self.server
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/token":
            server.token_requests.append(dict(urllib.parse.parse_qsl(url.query)))
            self._send(200, json.dumps({"token": server.token}).encode(),
                       {"Content-Type": "application/json"})
            return
        if self.headers.get("Authorization") != f"Bearer {server.token}":
            realm = f"http://127.0.0.1:{server.server_port}/token"
            self._send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate":
                       f'Bearer realm="{realm}",service="dwt-test",'
                       f'scope="repository:dwtest/busybox:pull"'})
            return
        request = urllib.request.Request(f"http://{server.upstream}{self.path}",
                                         headers={"Accept": self.headers.get("Accept", "*/*")})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                body, status, headers = response.read(), response.status, response.headers
        except urllib.error.HTTPError as exc:
            body, status, headers = exc.read(), exc.code, exc.headers
        if server.corrupt_layers and "/blobs/" in self.path and len(body) > 100_000:
            body = body[:1000] + bytes([body[1000] ^ 0xFF]) + body[1001:]  # the busybox layer
        keep = ("Content-Type", "Docker-Content-Digest")
        self._send(status, body, {k: headers[k] for k in keep if headers.get(k)})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(name="front")
def front_fixture(registry: str) -> Iterator[Any]:
    """The token gate on a free port, in front of the session registry."""
    server: Any = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TokenFront)
    server.upstream, server.token, server.token_requests = registry, uuid.uuid4().hex, []
    server.corrupt_layers = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_pull_with_anonymous_bearer_token(store: ImageStore, registry: str, front: Any,
                                          pushed: tuple[str, str]) -> None:
    target, image_id = pushed
    via_front = target.replace(registry, f"127.0.0.1:{front.server_port}")
    image = store.pull(via_front)
    assert image.id == image_id and via_front in image.refs
    assert front.token_requests[0] == {"service": "dwt-test",
                                       "scope": "repository:dwtest/busybox:pull"}
    assert len(front.token_requests) == 1  # the token is reused for the blobs


def test_pull_refuses_a_corrupt_layer_blob(api: Any, store: ImageStore, registry: str,
                                           front: Any, pushed: tuple[str, str]) -> None:
    front.corrupt_layers = True
    via_front = pushed[0].replace(registry, f"127.0.0.1:{front.server_port}")
    with pytest.raises(ImageError, match=r"content has digest .*, expected sha256:"):
        store.pull(via_front)
    busybox_layer = api.inspect_image(pushed[1])["RootFS"]["Layers"][0]
    left = {p.name for p in store.layers.iterdir()}  # the intact layer may stay: it is verified
    assert busybox_layer[7:] not in left and not [n for n in left if n.startswith(".")]
    assert not any(store.records.iterdir()) and store.get(via_front) is None


def test_unreachable_registry_is_transient(store: ImageStore) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connection refused
        with pytest.raises(Transient, match=f"registry 127.0.0.1:{port} cannot be reached"):
            store.pull(f"127.0.0.1:{port}/dwt/none:1")
    assert store_is_clean(store)
