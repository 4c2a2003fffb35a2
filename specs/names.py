"""Names and image references: Docker's rules, with messages that say the fix.

Role: the small checks every spec model shares: resource names (containers,
volumes, networks), network aliases (DNS names) and image references (``:latest``
added when no tag is given). Neighbours: used by ``specs.models`` (which
re-exports them), ``specs.loader`` (table names) and ``specs.schema``
(patterns); also ip addresses, stop signals and hostnames as Docker and the
kernel take them; runtime-neutral and pure.
"""

from __future__ import annotations

import ipaddress
import re

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_IMAGE_RE = re.compile(
    r"^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9-]+)*(?::\d+)?|localhost(?::\d+)?)/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
ALIAS_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
ENV_NAME_RE = re.compile(r"^[^=\s]+$")


def check_name(name: str, what: str = "name", shortest: int = 1) -> str:
    """Docker's naming rule for containers, volumes and networks; containers and volumes
    need at least two characters (``shortest = 2``: Docker refuses ``--name a``)."""
    if not NAME_RE.match(name) or len(name) > 128:
        raise ValueError(
            f"invalid {what} {name!r}: use letters, digits, '_', '.' and '-', starting with a "
            "letter or digit"
        )
    if len(name) < shortest:
        raise ValueError(f"invalid {what} {name!r}: Docker needs at least {shortest} characters"
                         f" — use a longer name, e.g. \"{name}1\"")
    return name


def check_ip(value: str) -> str:
    """An IPv4 or IPv6 address, as written in a port (``ip = "127.0.0.1"``)."""
    try:
        ipaddress.ip_address(value)
    except ValueError as exc:
        if value.startswith("["):
            hint = "write an IPv6 address without brackets in ip = \"...\", e.g. \"::1\""
        elif ":" in value:
            hint = "write an IPv6 address such as \"::1\" or \"fd00::10\""
        else:
            hint = ("an IPv4 address is four numbers from 0 to 255, e.g. \"127.0.0.1\"; "
                    "IPv6 goes in brackets in the short form: \"[::1]:8080:80\"")
        raise ValueError(f"invalid ip address {value!r}: Docker would publish the port on "
                         f"every address instead — {hint}") from exc
    return value


# Linux signal names as Docker's ParseSignal takes them (without "SIG").
_SIGNALS = frozenset({
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT",
    "KILL", "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM",
    "TRAP", "TSTP", "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ",
    "RTMIN", "RTMAX",
}) | {f"RTMIN+{i}" for i in range(1, 16)} | {f"RTMAX-{i}" for i in range(1, 15)}


def check_signal(value: str) -> str:
    """``"SIGTERM"``, ``"term"`` -> ``"SIGTERM"``; ``"15"`` stays (1 to 64, as Docker takes)."""
    if value.isdigit():
        if not 1 <= int(value) <= 64:
            raise ValueError(f"invalid stop_signal {value!r}: signal numbers go from 1 to 64 — "
                             "e.g. stop_signal = \"SIGTERM\"")
        return value
    bare = value.upper().removeprefix("SIG")
    if bare not in _SIGNALS:
        raise ValueError(f"invalid stop_signal {value!r}: not a Linux signal — use a name "
                         "such as \"SIGTERM\", \"SIGINT\", \"SIGQUIT\" or \"SIGUSR1\"")
    return f"SIG{bare}"


def check_hostname(value: str) -> str:
    """A hostname the kernel takes (``sethostname``: 1 to 64 bytes), without blanks."""
    if not value or len(value.encode()) > 64 or any(c.isspace() or not c.isprintable()
                                                     for c in value):
        shown = value if len(value) <= 40 else f"{value[:37]}..."
        raise ValueError(f"invalid hostname {shown!r}: Linux takes 1 to 64 characters "
                         f"without blanks (this one has {len(value.encode())}) — use a short name "
                         "such as \"web\"; "
                         "containers reach each other by container name or alias")
    return value


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
