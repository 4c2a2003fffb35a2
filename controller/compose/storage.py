"""Compose's volumes, networks, ports and mounts in the spec language.

Role: the parts of the conversion that name runtime objects the way
docker-compose 1.x names them, so that the imported specs find (and adopt)
what compose made: a top-level volume ``data`` of project ``app`` is the
Docker volume ``app_data`` (``name:`` and ``external`` as given), networks
likewise, the default network ``app_default``. :class:`Names` holds that
map; :func:`volume_tables` / :func:`network_tables` write the ``[volume.*]``
and ``[network.*]`` tables; :func:`mounts` and :func:`ports` convert a
service's lists (short and long syntax, port ranges expanded one port per
entry). Neighbours: ``controller.compose.convert`` (services) calls these;
``controller.compose.tables`` holds the results. Pure.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from controller.compose.tables import Table

Report = Callable[[str, str, str], None]  # (key suffix, message, fix)


@dataclass
class Names:
    """Compose object name -> Docker name, for one project."""

    project: str
    volumes: dict[str, str] = field(default_factory=dict)
    networks: dict[str, str] = field(default_factory=dict)
    declared_default: bool = False  # the file configures networks.default itself

    def network(self, name: str) -> str:
        return self.networks.get(name, f"{self.project}_{name}")


def _external(body: dict[str, Any], name: str) -> tuple[bool, str]:
    ext = body.get("external")
    if isinstance(ext, dict):
        return True, str(ext.get("name") or body.get("name") or name)
    return bool(ext), str(body.get("name") or name)


def volume_tables(project: str, volumes: dict[str, Any], names: Names,
                  report: Callable[[str, str, str, str], None]) -> list[Table]:
    out = []
    for name, raw in sorted(volumes.items()):
        body = raw or {}
        external, given = _external(body, name)
        docker = given if external or "name" in body else f"{project}_{name}"
        names.volumes[name] = docker
        table = Table("volume", docker)
        if docker != name:
            table.notes.append(f"compose volume {name!r}" + (
                "" if external or "name" in body else f" (docker-compose names it "
                f"{project}_{name})"))
        if external:
            table.set("external", True)
        if body.get("driver") not in (None, "local"):
            table.set("driver", str(body["driver"]))
        if body.get("driver_opts"):
            table.set("driver_opts", {str(k): str(v) for k, v in body["driver_opts"].items()})
        labels = _labels(body.get("labels"))
        if labels:
            table.set("labels", labels)
        for key in body:
            if key not in ("external", "name", "driver", "driver_opts", "labels") and \
                    not key.startswith("x-"):
                report(f"volumes.{name}.{key}", f"volume key {key!r} has no spec key",
                       "leave it out, or create the volume yourself and declare it "
                       "external = true", name)
        out.append(table)
    return out


def network_tables(project: str, networks: dict[str, Any], names: Names,
                   report: Callable[[str, str, str, str], None]) -> list[Table]:
    out = []
    for name, raw in sorted(networks.items()):
        body = raw or {}
        external, given = _external(body, name)
        docker = given if external or "name" in body else f"{project}_{name}"
        names.networks[name] = docker
        if name == "default":
            names.declared_default = True
        table = Table("network", docker)
        if docker != name:
            table.notes.append(f"compose network {name!r}" + (
                "" if external or "name" in body else f" (docker-compose names it "
                f"{project}_{name})"))
        if external:
            table.set("external", True)
        if body.get("driver") not in (None, "bridge"):
            table.set("driver", str(body["driver"]))
        if body.get("internal"):
            table.set("internal", True)
        ipam = body.get("ipam") or {}
        configs = ipam.get("config") or []
        if configs and isinstance(configs[0], dict) and configs[0].get("subnet"):
            table.set("subnet", str(configs[0]["subnet"]))
        extra = [k for k in ipam if k != "config"] + [
            f"config[0].{k}" for c in configs[:1] if isinstance(c, dict) for k in c
            if k != "subnet"] + (["config[1]"] if len(configs) > 1 else [])
        for key in extra:
            report(f"networks.{name}.ipam.{key}", "only one subnet per network is supported",
                   "keep one ipam.config entry with a subnet", name)
        labels = _labels(body.get("labels"))
        if labels:
            table.set("labels", labels)
        for key in body:
            if key == "attachable":
                table.comments.setdefault("driver", "attachable: bridge networks always are")
            elif key not in ("external", "name", "driver", "internal", "ipam", "labels") \
                    and not key.startswith("x-"):
                report(f"networks.{name}.{key}", f"network key {key!r} has no spec key",
                       "leave it out, or create the network yourself and declare it "
                       "external = true", name)
        out.append(table)
    return out


def _labels(value: Any) -> dict[str, str]:
    if isinstance(value, list):
        return {k: v for k, _, v in (str(i).partition("=") for i in value)}
    return {str(k): "" if v is None else str(v) for k, v in (value or {}).items()}


def relative(path: str, out_dir: str) -> str:
    """A host path as a spec file in ``out_dir`` writes it."""
    rel = os.path.relpath(path, out_dir)
    if rel == ".":
        return "."
    return rel if rel.startswith("..") else f"./{rel}"


def host_path(path: str, out_dir: str) -> str:
    """A host path as written: relative to the spec folder when it lies below the folder's
    parent (the compose project's own files), else absolute."""
    return relative(path, out_dir) if _near(path, out_dir) else path


def mounts(items: list[Any], names: Names, out_dir: str, report: Report) -> list[Any]:
    """``volumes:`` of a service: strings where the short form says it all."""
    out: list[Any] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            parts = item.split(":")
            mode = parts[2] if len(parts) > 2 else ""
            flags = set(mode.split(",")) if mode else set()
            if flags & {"z", "Z"}:
                report(f"volumes[{i}]", "SELinux relabelling (:z, :Z) is not supported",
                       "relabel the host folder yourself (chcon) and drop :z")
                continue
            if flags - {"ro", "rw", "cached", "delegated", "consistent", "nocopy"}:
                report(f"volumes[{i}]", f"unknown volume mode {mode!r}", "use ro or rw")
                continue
            ro = ":ro" if "ro" in flags else ""
            if len(parts) == 1:
                out.append(parts[0])
            elif parts[0].startswith("/"):
                out.append(f"{host_path(parts[0], out_dir)}:{parts[1]}{ro}")
            else:
                if parts[0] not in names.volumes:
                    report(f"volumes[{i}]", f"volume {parts[0]!r} is not declared under the "
                           "top-level volumes:", f"add volumes: {parts[0]}: to the compose file")
                    continue
                out.append(f"{names.volumes[parts[0]]}:{parts[1]}{ro}")
            continue
        kind = item.get("type", "volume")
        target = str(item.get("target", ""))
        read_only = bool(item.get("read_only"))
        if kind == "tmpfs":
            entry: dict[str, Any] = {"type": "tmpfs", "target": target}
            size = (item.get("tmpfs") or {}).get("size")
            if size is not None:
                entry["size"] = size
            out.append(entry)
            continue
        extra = [k for k in item if k not in ("type", "source", "target", "read_only",
                                              "volume", "bind", "consistency")]
        if kind not in ("volume", "bind") or extra or (item.get("bind") or {}).get(
                "propagation") or (item.get("volume") or {}).get("nocopy"):
            report(f"volumes[{i}]", f"this {kind} mount ({', '.join(extra) or 'options'}) "
                   "has no spec form", "use a plain volume or bind mount: source, target, "
                   "read_only")
            continue
        source = item.get("source")
        if kind == "bind":
            src = host_path(str(source), out_dir)
        elif source:
            if source not in names.volumes:
                report(f"volumes[{i}]", f"volume {source!r} is not declared under the "
                       "top-level volumes:", f"add volumes: {source}: to the compose file")
                continue
            src = names.volumes[str(source)]
        else:
            out.append(target)
            continue
        out.append(f"{src}:{target}{':ro' if read_only else ''}")
    return out


def _near(path: str, out_dir: str) -> bool:
    """Whether a host path is written relative to the spec folder (below its parent)."""
    parent = os.path.dirname(os.path.abspath(out_dir))
    return path == parent or path.startswith(parent.rstrip("/") + "/")


_RANGE = re.compile(r"^(\d+)-(\d+)$")


def _expand(host: str, container: str) -> list[tuple[str, str]] | None:
    c = _RANGE.match(container)
    h = _RANGE.match(host) if host else None
    if c is None:
        if h is not None:
            return None  # a host range onto one port: compose picks one
        return [(host, container)]
    first, last = int(c.group(1)), int(c.group(2))
    if h is None:
        if host:
            return None
        return [("", str(p)) for p in range(first, last + 1)]
    hfirst, hlast = int(h.group(1)), int(h.group(2))
    if hlast - hfirst != last - first:
        return None
    return [(str(hfirst + k), str(first + k)) for k in range(last - first + 1)]


def ports(items: list[Any], report: Report) -> list[Any]:
    """``ports:``: short strings kept, ranges expanded, the long form as tables."""
    out: list[Any] = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            extra = [k for k in item if k not in ("target", "published", "protocol",
                                                  "host_ip", "mode")]
            if extra or item.get("mode") not in (None, "ingress", "host"):
                report(f"ports[{i}]", f"port keys {extra} have no spec form",
                       "use target, published, protocol and host_ip")
                continue
            published = str(item.get("published", "") or "")
            pairs = _expand(published, str(item.get("target", "")))
            if pairs is None:
                report(f"ports[{i}]", "a port range must map onto a range of the same length",
                       "write one port per entry")
                continue
            for host, container in pairs:
                entry: dict[str, Any] = {"container": int(container)}
                if host:
                    entry["host"] = int(host)
                if item.get("host_ip"):
                    entry["ip"] = str(item["host_ip"])
                if item.get("protocol", "tcp") != "tcp":
                    entry["protocol"] = str(item["protocol"])
                out.append(entry)
            continue
        text = str(item)
        proto = ""
        if "/" in text:
            text, proto = text.rsplit("/", 1)
            proto = "/" + proto
        ip = ""
        if text.startswith("["):
            end = text.find("]")
            ip, text = text[: end + 2], text[end + 2:]
        parts = text.split(":")
        if len(parts) == 3:
            ip, parts = parts[0] + ":", parts[1:]
        host, container = (parts[0], parts[1]) if len(parts) == 2 else ("", parts[0])
        expanded = _expand(host, container)
        if expanded is None:
            report(f"ports[{i}]", f"port range {item!r} maps a range onto a range of "
                   "another length", "write the same number of host and container ports")
            continue
        for h, c in expanded:
            if not h and not ip:
                out.append(f"{c}{proto}" if proto else int(c))
            else:
                out.append(f"{ip}{h}:{c}{proto}")
    return out
