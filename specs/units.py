"""Parsers for the short syntaxes of the spec language.

Role: turn the compact strings people write in spec files (durations, sizes,
docker's port and volume short syntax, restart policies, commands given as one
string, the list forms of depends_on and networks) into plain values.
Neighbours: used by ``specs.models`` validators only; pure functions, no I/O.
Every parser raises ``ValueError`` with a message that says the expected form,
which pydantic turns into a located validation error.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_duration(value: object) -> float:
    """``"1m30s"`` -> 90.0; numbers are seconds. Negative values are refused."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as \"5s\" or \"1m30s\"")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("expected a duration such as \"5s\" or \"1m30s\"")
    text = value.strip().lower()
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(
            f"invalid duration {value!r}: write a number with a unit, e.g. \"500ms\", \"5s\", "
            "\"1m30s\", \"2h\""
        )
    return total


def parse_size(value: object) -> int:
    """``"256m"`` -> 268435456 bytes; integers are bytes."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as \"256m\" or \"1g\"")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return value
    if isinstance(value, str):
        match = _SIZE.match(value.strip())
        if match:
            return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])
    raise ValueError(
        f"invalid size {value!r}: write a number with a unit b, k, m or g, e.g. \"256m\", \"1g\""
    )


def parse_swap(value: object) -> int:
    """``resources.memory_swap``: a size, or -1 (or ``"unlimited"``) for unlimited swap."""
    if value == -1 or value == "unlimited":
        return -1
    return parse_size(value)


_CPUSET = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")


def check_cpuset(value: str) -> str:
    """``"0-1"``, ``"0,2"``: the CPUs a container may run on."""
    if not _CPUSET.match(value):
        raise ValueError(f"invalid cpuset {value!r}: list CPU numbers and ranges, e.g. \"0-1\" "
                         "or \"0,2\"")
    return value


@dataclass(frozen=True)
class PortParts:
    """The pieces of a ``"[ip:]host:container[/proto]"`` string."""

    container: int
    host: int | None
    ip: str | None
    protocol: str


def _port_number(text: str, what: str, spec: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(
            f"invalid {what} port {text!r} in {spec!r}: expected a number from 1 to 65535, "
            "or a range such as \"8000-8010\""
        )
    return int(text)


def parse_port(spec: str) -> PortParts:
    """Docker's short port syntax: ``"8080:80"``, ``"127.0.0.1:8080:80/udp"``, ``"80"``."""
    text, protocol = spec, "tcp"
    if "/" in text:
        text, protocol = text.rsplit("/", 1)
        protocol = protocol.lower()
        if protocol not in ("tcp", "udp", "sctp"):
            raise ValueError(f"invalid protocol {protocol!r} in {spec!r}: use tcp, udp or sctp")
    ip: str | None = None
    if text.startswith("["):  # IPv6: "[::1]:8080:80"
        end = text.find("]")
        if end < 0:
            raise ValueError(f"invalid port {spec!r}: missing ']' after the IPv6 address")
        ip, text = text[1:end], text[end + 1 :].lstrip(":")
    parts = text.split(":")
    if len(parts) == 3 and ip is None:
        ip = parts.pop(0)
    if len(parts) == 1:
        return PortParts(_port_number(parts[0], "container", spec), None, ip, protocol)
    if len(parts) != 2:
        raise ValueError(f"invalid port {spec!r}: expected \"[ip:]host:container[/tcp|udp]\"")
    host = None if parts[0] == "" else _port_number(parts[0], "host", spec)
    return PortParts(_port_number(parts[1], "container", spec), host, ip or None, protocol)


def _port_range(text: str, what: str, spec: str) -> list[int]:
    """``"8000-8010"`` -> [8000..8010]; ``"80"`` -> [80]; "" -> []."""
    first, dash, last = text.partition("-")
    if not dash:
        return [_port_number(text, what, spec)] if text else []
    low, high = _port_number(first, what, spec), _port_number(last, what, spec)
    if high < low:
        raise ValueError(f"invalid {what} port range {text!r} in {spec!r}: the first port must "
                         "not be above the last")
    return list(range(low, high + 1))


def expand_port_range(spec: str) -> list[str]:
    """``"8000-8002:9000-9002/udp"`` -> one short port string per port (in order); a
    string without a range comes back as it is. The host range and the container range
    must have the same length (compose's rule)."""
    text, slash, protocol = spec.rpartition("/") if "/" in spec else (spec, "", "")
    head, tail = "", text
    if tail.startswith("["):  # IPv6 address: keep it whole
        end = tail.find("]")
        head, tail = tail[: end + 1], tail[end + 1 :]
    if "-" not in tail:
        return [spec]
    parts = tail.split(":")
    container = _port_range(parts[-1], "container", spec)
    host = _port_range(parts[-2], "host", spec) if len(parts) > 1 else []
    if host and len(host) != len(container):
        raise ValueError(f"invalid port range {spec!r}: the host range and the container range "
                         "must hold as many ports, e.g. \"8000-8010:8000-8010\"")
    prefix = head + ":".join(parts[:-2]) + (":" if len(parts) > 2 else "")
    out = []
    for i, port in enumerate(container):
        shown = f"{host[i] if host else ''}:{port}" if len(parts) > 1 else str(port)
        out.append(f"{prefix}{shown}{slash}{protocol}")
    return out


def expand_ports(value: object) -> object:
    """The ``ports`` list with every range string expanded in place (one entry per port)."""
    if not isinstance(value, list | tuple) or not any(
            isinstance(item, str) and "-" in item for item in value):
        return value  # no range: the common case, left as it is
    out: list[object] = []
    for item in value:
        out.extend(expand_port_range(item) if isinstance(item, str) else [item])
    return type(value)(out)


def parse_expose(value: object) -> object:
    """``expose``: ``"8080"``, ``8080``, ``"9000/udp"``, ``"8000-8002"`` -> ``"8080/tcp"``
    forms, sorted, each port once."""
    if not isinstance(value, list | tuple):
        return value
    out: set[str] = set()
    for item in value:
        if isinstance(item, int) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str):
            raise ValueError("expected a list of ports, e.g. expose = [\"8080\", \"9000/udp\"]")
        text, _, protocol = item.partition("/")
        protocol = (protocol or "tcp").lower()
        if protocol not in ("tcp", "udp", "sctp"):
            raise ValueError(f"invalid protocol {protocol!r} in {item!r}: use tcp, udp or sctp")
        out.update(f"{port}/{protocol}" for port in _port_range(text, "exposed", item))
    return tuple(sorted(out, key=lambda p: (int(p.partition("/")[0]), p)))


@dataclass(frozen=True)
class VolumeParts:
    """The pieces of a ``"source:target[:ro]"`` string."""

    type: str
    source: str | None
    target: str
    read_only: bool


def parse_volume(spec: str) -> VolumeParts:
    """``"data:/x"`` (named), ``"/srv:/x:ro"`` / ``"./rel:/x"`` (bind), ``"/x"`` (anonymous)."""
    parts = spec.split(":")
    mode = "rw"
    if len(parts) == 3:
        mode = parts.pop()
    if len(parts) > 2 or not parts[-1]:
        raise ValueError(f"invalid volume {spec!r}: expected \"source:/container/path[:ro]\"")
    if mode not in ("ro", "rw"):
        raise ValueError(f"invalid volume mode {mode!r} in {spec!r}: use ro or rw")
    if len(parts) == 1:
        return VolumeParts("volume", None, parts[0], mode == "ro")
    source, target = parts
    is_path = source.startswith(("/", ".", "~"))
    return VolumeParts("bind" if is_path else "volume", source, target, mode == "ro")


def parse_restart(value: str) -> tuple[str, int]:
    """``"on-failure:3"`` -> ``("on-failure", 3)``."""
    name, _, count = value.partition(":")
    if name not in ("no", "always", "on-failure", "unless-stopped"):
        raise ValueError(
            f"invalid restart policy {value!r}: use \"no\", \"always\", \"on-failure[:N]\" "
            "or \"unless-stopped\""
        )
    if count and (name != "on-failure" or not count.isdigit()):
        raise ValueError(f"invalid restart policy {value!r}: only on-failure takes a count, "
                         "e.g. \"on-failure:3\"")
    return name, int(count or 0)


def split_command(value: object) -> object:
    """A command given as a string is split like a shell would (compose's rule)."""
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            raise ValueError(f"cannot split command {value!r}: {exc}") from exc
    return value


def _names(value: list[object] | tuple[object, ...], example: str) -> list[str]:
    """The list form of depends_on / networks holds names only."""
    if not all(isinstance(name, str) for name in value):
        raise ValueError(f"expected a list of names, e.g. {example}")
    return [str(name) for name in value]


def depends_short(value: object) -> object:
    """``depends_on = ["db"]`` means ``{ db = "started" }``."""
    if isinstance(value, list | tuple):
        return {name: "started" for name in _names(value, 'depends_on = ["db"]')}
    return value


def networks_short(value: object) -> object:
    """``["a"]``, ``{ a = ["alias"] }`` and ``{ a = true }`` -> ``{ a = { aliases } }``."""
    if isinstance(value, list | tuple):
        return {name: {} for name in _names(value, 'networks = ["backend"]')}
    if isinstance(value, dict):
        return {k: ({"aliases": v} if isinstance(v, list | tuple) else {} if v is True else v)
                for k, v in value.items()}
    return value
