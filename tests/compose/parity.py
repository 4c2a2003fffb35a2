"""The parity check: the inspect of a compose container vs the one dockwright made.

Role: :func:`record` reads the inspect of every container of one project (by
compose's or dockwright's project label) as :class:`Fields` keyed by container
name, normalised only where the two tools must differ by nature (a container's
own id: the default hostname, the short-id network alias, ``container:<id>``
modes; label namespaces of the two tools; restart policy "" is "no"; tmpfs
mounts whichever API made them); :func:`compare` lists the differences field
by field; :func:`intended` reads the README's table of intended differences
(``| file | field | reason |``) that the parity test enforces; :func:`table`
prints the fields compared and the differences per file. Neighbours:
``tests/compose/test_parity.py``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

CONFIG = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Hostname", "Domainname",
          "ExposedPorts", "Healthcheck", "StopSignal", "Labels", "Tty", "OpenStdin")
HOST = ("PortBindings", "Mounts", "RestartPolicy", "CapAdd", "CapDrop", "Privileged",
        "Devices", "ExtraHosts", "Dns", "DnsOptions", "DnsSearch", "Init", "ReadonlyRootfs",
        "ShmSize", "Ulimits", "Sysctls", "LogConfig", "SecurityOpt", "Memory",
        "MemoryReservation", "MemorySwap", "NanoCpus", "CpuShares", "CpusetCpus", "PidsLimit",
        "NetworkMode", "IpcMode", "PidMode", "GroupAdd", "OomScoreAdj")
FIELDS = (*(f"Config.{f}" for f in CONFIG), *(f"HostConfig.{f}" for f in HOST), "Aliases")
OWN_LABELS = ("com.docker.compose.", "io.dockwright.")
SETS = ("Config.Env", "HostConfig.CapAdd", "HostConfig.CapDrop", "HostConfig.ExtraHosts",
        "HostConfig.Dns", "HostConfig.DnsSearch", "HostConfig.DnsOptions",
        "HostConfig.SecurityOpt", "HostConfig.GroupAdd")

Fields = dict[str, Any]


def _empty(value: Any) -> Any:
    """``None``, ``[]``, ``{}`` and ``""`` all mean "not set" in an inspect."""
    return None if value in (None, [], {}, "") else value


_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _tmpfs(target: str, options: str) -> str:
    """One tmpfs as ``tmpfs:TARGET:size=BYTES:mode=MODE`` (either may be empty)."""
    found = dict(o.partition("=")[::2] for o in options.split(",") if "=" in o)
    size = found.get("size", "")
    if size:
        number = re.fullmatch(r"(\d+)([bkmg]?)", size.lower())
        size = str(int(number.group(1)) * _UNITS[number.group(2)]) if number else size
    return f"tmpfs:{target}:size={size}:mode={found.get('mode', '')}"


def _mounts(info: dict[str, Any]) -> list[str]:
    """Volumes and binds (``Mounts``) and tmpfs mounts, whichever API made them (the
    ``Mounts`` list of a create, or ``HostConfig.Tmpfs``)."""
    host = info.get("HostConfig") or {}
    out = [_tmpfs(t, o or "") for t, o in (host.get("Tmpfs") or {}).items()]
    for m in host.get("Mounts") or []:
        if m.get("Type") == "tmpfs":
            opts = m.get("TmpfsOptions") or {}
            size, mode = opts.get("SizeBytes"), opts.get("Mode")
            out.append(_tmpfs(m["Target"], ",".join(
                ([f"size={size}"] if size else []) + ([f"mode={mode:o}"] if mode else []))))
    for m in info.get("Mounts") or []:
        if m.get("Type") == "tmpfs":
            continue
        source = m.get("Name") or m.get("Source") or ""
        if m.get("Type") == "volume" and len(source) == 64 and re.fullmatch(r"[0-9a-f]+",
                                                                            source):
            source = "(anonymous)"
        out.append(f"{m.get('Type')}:{source}:{m.get('Destination')}:"
                   f"{'rw' if m.get('RW') else 'ro'}")
    return out


def _network_mode(value: str | None, names: dict[str, str]) -> str | None:
    """``container:<id>`` as ``container:<name>`` (ids differ by nature)."""
    if value and value.startswith("container:"):
        ref = value.removeprefix("container:")
        return f"container:{names.get(ref, ref)}"
    return value


def fields(info: dict[str, Any], names: dict[str, str]) -> Fields:
    """The compared fields of one inspect, normalised (see the module doc)."""
    cid = info["Id"]
    config, host = info.get("Config") or {}, info.get("HostConfig") or {}
    out: Fields = {}
    for f in CONFIG:
        out[f"Config.{f}"] = _empty(config.get(f))
    for f in HOST:
        out[f"HostConfig.{f}"] = _empty(host.get(f))
    restart = out["HostConfig.RestartPolicy"]
    if restart and restart.get("Name") == "" and not restart.get("MaximumRetryCount"):
        out["HostConfig.RestartPolicy"] = {"Name": "no", "MaximumRetryCount": 0}  # the same
    if out["Config.Hostname"] == cid[:12]:
        out["Config.Hostname"] = "(container id)"
    elif out["Config.Hostname"] in names:  # network_mode container:X: X's hostname
        out["Config.Hostname"] = f"(container id of {names[out['Config.Hostname']]})"
    labels = {k: v for k, v in (config.get("Labels") or {}).items()
              if not k.startswith(OWN_LABELS)}
    out["Config.Labels"] = _empty(labels)
    out["HostConfig.Mounts"] = _empty(sorted(_mounts(info)))
    for key in ("HostConfig.NetworkMode", "HostConfig.IpcMode", "HostConfig.PidMode"):
        out[key] = _network_mode(out[key], names)
    for key in SETS:
        if out[key] is not None:
            out[key] = sorted(out[key])
    aliases = {}
    for net, ep in ((info.get("NetworkSettings") or {}).get("Networks") or {}).items():
        found = sorted(a for a in ep.get("Aliases") or [] if a not in (cid[:12], cid))
        aliases[net] = found
    out["Aliases"] = _empty(aliases)
    return out


def record(client: docker.DockerClient, label: str) -> dict[str, Fields]:
    """Container name -> compared fields, for every container carrying ``label``."""
    found = client.containers.list(all=True, filters={"label": label})
    infos = [client.api.inspect_container(c.id) for c in found]
    names = {i["Id"]: i["Name"].lstrip("/") for i in infos}
    names.update({k[:12]: v for k, v in names.items()})
    return {i["Name"].lstrip("/"): fields(i, names) for i in infos}


@dataclass(frozen=True)
class Difference:
    file: str
    container: str
    field: str
    compose: Any
    dockwright: Any

    def show(self) -> str:
        return (f"{self.file}: {self.container}: {self.field}: compose "
                f"{json.dumps(self.compose)} / dockwright {json.dumps(self.dockwright)}")


def compare(file: str, compose: dict[str, Fields], mine: dict[str, Fields],
            rename: dict[str, str]) -> list[Difference]:
    """Differences per container (``rename``: a compose name -> dockwright's name)."""
    out = []
    for name in sorted(set(compose) | {n for n in mine if n not in rename.values()}):
        theirs = compose.get(name)
        ours = mine.get(rename.get(name, name))
        if theirs is None or ours is None:
            out.append(Difference(file, name, "(container)", theirs is not None,
                                  ours is not None))
            continue
        for f in FIELDS:
            if theirs.get(f) != ours.get(f):
                out.append(Difference(file, name, f, theirs.get(f), ours.get(f)))
    return out


def intended(readme: Path) -> dict[tuple[str, str], str]:
    """(file, field) -> reason, from the README's "Intended differences" table."""
    text = readme.read_text(encoding="utf-8")
    start = text.index("### Intended differences")
    rows: dict[tuple[str, str], str] = {}
    for line in text[start:].splitlines()[1:]:
        if line.startswith("#"):
            break
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("file", "") and not set(cells[0]) <= {"-"}:
            for f in cells[0].split(","):
                rows[(f.strip(), cells[1])] = cells[2]
    return rows


def table(rows: list[tuple[str, int, int, list[Difference]]]) -> str:
    """The printed report: per file, containers, fields compared, differences."""
    lines = [f"{'file':<24} {'containers':>10} {'fields':>7} {'differences':>11}"]
    for file, containers, compared, diffs in rows:
        lines.append(f"{file:<24} {containers:>10} {compared:>7} {len(diffs):>11}")
        lines += [f"    {d.container}: {d.field}: compose {json.dumps(d.compose)} / "
                  f"dockwright {json.dumps(d.dockwright)}" for d in diffs]
    lines.append(f"fields compared per container: {', '.join(FIELDS)}")
    return "\n".join(lines)
