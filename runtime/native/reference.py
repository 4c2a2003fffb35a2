"""Image references: parse, normalise and print ``[registry/]name[:tag][@digest]``.

Role: one place that knows Docker's reference grammar and its docker.io
defaults (``busybox`` -> ``docker.io/library/busybox:latest``, served by
``registry-1.docker.io``), so that the image store keys its refs the same way
whatever spelling a spec used, and the registry client knows which host,
repository and tag/digest to ask for. Neighbours: ``runtime.native.images``
(ref keys), ``runtime.native.distribution`` (pulls), ``runtime.native.archive``
(refs found in archives). Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runtime.errors import InvalidRequest

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_DOMAIN = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$"
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Reference:
    """A fully qualified reference: ``registry`` host[:port], ``repository`` path, tag/digest."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def api_host(self) -> str:
        """The host[:port] that serves the distribution API for ``registry``."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def name(self) -> str:
        """The familiar repository name (``busybox``, ``foo/bar``, ``host:5000/x/y``)."""
        if self.registry == DOCKER_HUB:
            path = self.repository
            if path.startswith("library/") and path.count("/") == 1:
                return path[len("library/"):]
            return path
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """What to ask the registry's ``/manifests/`` for: the digest, else the tag."""
        return self.digest or self.tag or "latest"

    def familiar(self) -> str:
        """The short, canonical form used as a ref key (``busybox:latest``, ``x/y@sha256:..``)."""
        if self.digest:
            return f"{self.name}@{self.digest}"
        return f"{self.name}:{self.tag or 'latest'}"

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, None, digest)

    def __str__(self) -> str:
        return self.familiar()


def is_local_registry(host: str) -> bool:
    """True for registries on loopback, which are spoken to over plain http."""
    hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    return hostname in ("localhost", "[::1]") or hostname.startswith("127.")


def parse_reference(ref: str) -> Reference:
    """Parse and normalise ``ref``; ``InvalidRequest`` (with the rule broken) when malformed."""
    text = ref.strip()
    if not text:
        raise InvalidRequest("empty image reference", hint="give an image such as 'busybox:1.36'")
    remainder, _, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        raise InvalidRequest(
            f"image reference {ref!r}: malformed or unsupported digest {digest!r}",
            hint="use 'name@sha256:<64 hex digits>'",
        )
    tag: str | None = None
    slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon > slash:
        remainder, tag = remainder[:colon], remainder[colon + 1:]
        if not _TAG.match(tag):
            raise InvalidRequest(
                f"image reference {ref!r}: invalid tag {tag!r}",
                hint="tags are up to 128 letters, digits, '_', '.' and '-'",
            )
    parts = remainder.split("/")
    first = parts[0]
    if len(parts) > 1 and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, parts[1:]
        if not _DOMAIN.match(registry):
            raise InvalidRequest(f"image reference {ref!r}: invalid registry {registry!r}")
    else:
        registry, path = DOCKER_HUB, parts
    if registry in ("index.docker.io", "registry-1.docker.io"):
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and len(path) == 1:
        path = ["library", *path]
    for component in path:
        if not _COMPONENT.match(component):
            raise InvalidRequest(
                f"image reference {ref!r}: invalid repository name component {component!r}",
                hint="repository names are lowercase letters, digits and single separators"
                " ('.', '_', '__', '-')",
            )
    if not digest and tag is None:
        tag = "latest"
    return Reference(registry, "/".join(path), None if digest else tag, digest or None)
