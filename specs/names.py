"""Names and image references: Docker's rules, with messages that say the fix.

Role: the small checks every spec model shares: resource names (containers,
volumes, networks), network aliases (DNS names) and image references (``:latest``
added when no tag is given). Neighbours: used by ``specs.models`` (which
re-exports them), ``specs.loader`` (table names) and ``specs.schema``
(patterns); runtime-neutral and pure.
"""

from __future__ import annotations

import re

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_IMAGE_RE = re.compile(
    r"^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9-]+)*(?::\d+)?|localhost(?::\d+)?)/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
ALIAS_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
ENV_NAME_RE = re.compile(r"^[^=\s]+$")


def check_name(name: str, what: str = "name") -> str:
    """Docker's naming rule for containers, volumes and networks."""
    if not NAME_RE.match(name) or len(name) > 128:
        raise ValueError(
            f"invalid {what} {name!r}: use letters, digits, '_', '.' and '-', starting with a "
            "letter or digit"
        )
    return name


def check_alias(alias: str) -> str:
    """A network alias is a DNS name: letters, digits, '-', '_' and '.'."""
    if not ALIAS_RE.match(alias) or len(alias) > 253:
        raise ValueError(f"invalid alias {alias!r}: use letters, digits, '-', '_' and '.', "
                         "starting with a letter or digit (it becomes a DNS name)")
    return alias


def normalise_image_ref(ref: str) -> str:
    """Validate an image reference and add ``:latest`` when it has no tag or digest."""
    if not _IMAGE_RE.match(ref):
        raise ValueError(
            f"invalid image reference {ref!r}: expected [registry/]name[:tag][@sha256:digest] "
            "with a lowercase name, e.g. \"mysql:5.7\""
        )
    last = ref.rsplit("/", 1)[-1]
    if "@" not in ref and ":" not in last:
        return f"{ref}:latest"
    return ref
