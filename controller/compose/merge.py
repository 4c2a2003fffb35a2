"""Several compose files and ``extends``, merged with docker-compose's rules.

Role: :func:`merge_files` folds ``-f`` files in order, :func:`resolve_extends`
replaces every ``extends`` (same file or another file, chains, cycles
refused) by the merged service; both use :func:`merge_service`, the rule
table of docker-compose 1.x (``config/config.py``): mappings (environment,
labels, ulimits, sysctls, extra_hosts, depends_on, networks, logging options,
healthcheck, deploy, build) merge key by key, volumes and devices by the path
inside the container, a few lists (ports, expose, cap_add, ...) by unique
items, dns / env_file / tmpfs concatenate, everything else is replaced.
Relative paths become absolute first (:func:`absolutise`: ``-f`` files
against the first file's folder, an extended file against its own), so a
merged service holds no path whose base is unknown. Neighbours:
``controller.compose.source`` before, ``controller.compose.convert`` after.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from controller.compose.source import ComposeError, ComposeFile, Origins, read

MAPPINGS = ("environment", "labels", "ulimits", "sysctls", "extra_hosts", "depends_on",
            "networks", "storage_opt", "healthcheck", "deploy", "build", "logging")
BY_TARGET = ("volumes", "devices")
UNIQUE = ("ports", "expose", "cap_add", "cap_drop", "external_links", "volumes_from",
          "profiles", "device_cgroup_rules")
CONCAT = ("dns", "dns_search", "env_file", "tmpfs", "dns_opt", "security_opt", "links",
          "secrets", "configs", "group_add")


def _as_mapping(name: str, value: Any) -> dict[str, Any]:
    """The list forms of environment, labels, extra_hosts, depends_on, networks, sysctls."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, str):
        value = [value]
    out: dict[str, Any] = {}
    for item in value:
        text = str(item)
        if name in ("depends_on", "networks"):
            out[text] = None
        elif name == "extra_hosts":
            host, _, ip = text.partition(":")
            out[host] = ip
        elif name == "build":
            out["context"] = text
        else:
            key, sep, val = text.partition("=")
            out[key] = val if sep else None
    return out


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _target(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("target", item))
    parts = str(item).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def _deep(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep(out[key], value)
        else:
            out[key] = value
    return out


def merge_service(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged onto ``base`` (docker-compose's ``merge_service_dicts``)."""
    out = dict(base)
    for key, value in over.items():
        if key not in base:
            out[key] = value
        elif key in MAPPINGS:
            if key == "build" and isinstance(value, str) and isinstance(base[key], str):
                out[key] = value
            else:
                out[key] = _deep(_as_mapping(key, base[key]), _as_mapping(key, value))
        elif key in BY_TARGET:
            merged = {_target(v): v for v in _listed(base[key])}
            merged.update({_target(v): v for v in _listed(value)})
            out[key] = list(merged.values())
        elif key in UNIQUE:
            out[key] = list(dict.fromkeys([*_listed(base[key]), *_listed(value)]))
        elif key in CONCAT:
            items = [*_listed(base[key]), *_listed(value)]
            out[key] = items if any(isinstance(i, dict) for i in items) else \
                list(dict.fromkeys(items))
        else:
            out[key] = value
    if "image" in over and "build" not in over and "image" in base and "build" in base:
        pass  # compose keeps the build of the base with the image of the override
    return out


def _home(path: str) -> str:
    return os.path.expanduser(path) if path.startswith("~") else path


def _abs(path: str, folder: Path) -> str:
    path = _home(path)
    return path if os.path.isabs(path) else os.path.normpath(folder / path)


def _bind_source(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def absolutise(service: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Relative host paths of a service made absolute against ``folder``."""
    out = dict(service)
    build = out.get("build")
    if isinstance(build, str):
        out["build"] = _abs(build, folder) if "://" not in build else build
    elif isinstance(build, dict) and isinstance(build.get("context"), str) and \
            "://" not in build["context"]:
        out["build"] = {**build, "context": _abs(build["context"], folder)}
    elif isinstance(build, dict) and "context" not in build:
        out["build"] = {**build, "context": str(folder)}
    if "env_file" in out:
        out["env_file"] = [_abs(str(p), folder) if isinstance(p, str) else
                           {**p, "path": _abs(str(p.get("path", "")), folder)}
                           for p in _listed(out["env_file"])]
    volumes = []
    for item in _listed(out.get("volumes")):
        if isinstance(item, str):
            source, sep, rest = item.partition(":")
            if sep and _bind_source(source):
                item = f"{_abs(source, folder)}:{rest}"
        elif isinstance(item, dict) and item.get("type", "volume") == "bind" and \
                isinstance(item.get("source"), str):
            item = {**item, "source": _abs(item["source"], folder)}
        volumes.append(item)
    if "volumes" in out:
        out["volumes"] = volumes
    extends = out.get("extends")
    if isinstance(extends, dict) and isinstance(extends.get("file"), str):
        out["extends"] = {**extends, "file": _abs(extends["file"], folder)}
    return out


def _absolutise_file(file: ComposeFile, folder: Path) -> dict[str, Any]:
    services = file.data.get("services") or {}
    if not isinstance(services, dict):
        raise ComposeError(file.origins.where(("services",)), "services",
                           "services must be a mapping of service names",
                           "write services: then one indented name per service")
    return {name: absolutise(body or {}, folder) for name, body in services.items()}


TOP = ("volumes", "networks", "secrets", "configs")


def merge_files(files: list[ComposeFile], project_dir: Path) -> tuple[dict[str, Any], Origins]:
    """The compose files folded in order, with the merged locations."""
    origins = Origins()
    merged: dict[str, Any] = {"services": {}, **{k: {} for k in TOP}}
    for file in files:
        origins.at.update(file.origins.at)
        for name, body in _absolutise_file(file, project_dir).items():
            old = merged["services"].get(name)
            merged["services"][name] = body if old is None else merge_service(old, body)
        for key in TOP:
            for name, body in (file.data.get(key) or {}).items():
                old = merged[key].get(name)
                merged[key][name] = _deep(old, body) if isinstance(old, dict) and \
                    isinstance(body, dict) else body
        for key, value in file.data.items():
            if key not in ("services", *TOP):
                merged[key] = value
    return merged, origins


def resolve_extends(merged: dict[str, Any], origins: Origins, environ: Mapping[str, str],
                    shown: str) -> None:
    """Replace every service's ``extends`` by the merged result (in place)."""
    services: dict[str, Any] = merged["services"]
    cache: dict[tuple[str, str], dict[str, Any]] = {}

    def resolve(file: str | None, name: str, body: dict[str, Any], chain: tuple[str, ...],
                here: tuple[str | int, ...]) -> dict[str, Any]:
        extends = body.get("extends")
        if extends is None:
            return body
        spec = {"service": extends} if isinstance(extends, str) else dict(extends)
        base_name = str(spec.get("service", ""))
        base_file = spec.get("file")
        link = f"{base_file or file or shown}:{base_name}"
        where = origins.where((*here, "extends"))
        if link in chain:
            raise ComposeError(where, f"services.{name}.extends",
                               f"extends makes a circle: {' -> '.join((*chain, link))}",
                               "break the circle")
        if base_file:
            path = Path(str(base_file))
            other = read(path, environ, shown=str(base_file))
            bodies = _absolutise_file(other, path.parent)
            if base_name not in bodies:
                raise ComposeError(where, f"services.{name}.extends",
                                   f"service {base_name!r} is not in {base_file}",
                                   f"name one of: {', '.join(sorted(bodies)) or '(none)'}")
            base = resolve(str(base_file), base_name, bodies[base_name], (*chain, link),
                           ("services", base_name))
        else:
            pool = services if file is None else _absolutise_file(
                read(Path(file), environ), Path(file).parent)
            if base_name not in pool:
                raise ComposeError(where, f"services.{name}.extends",
                                   f"service {base_name!r} is not declared",
                                   f"name one of: {', '.join(sorted(pool))}")
            base = resolve(file, base_name, pool[base_name], (*chain, link),
                           ("services", base_name))
            if file is None:
                for key, place in list(origins.at.items()):
                    size = 2
                    if key[:size] == ("services", base_name):
                        origins.at.setdefault((*here, *key[size:]), place)
        for banned in ("links", "volumes_from", "depends_on"):
            if banned in base and base is not body:
                raise ComposeError(where, f"services.{name}.extends",
                                   f"service {base_name!r} has {banned}, which compose does "
                                   "not carry over through extends",
                                   f"move {banned} into service {name!r} itself")
        own = {k: v for k, v in body.items() if k != "extends"}
        return merge_service({k: v for k, v in base.items() if k != "extends"}, own)

    for name in list(services):
        services[name] = resolve(None, name, services[name], (f"{shown}:{name}",),
                                 ("services", name))
    cache.clear()
