#!/usr/bin/env python3
"""Build a busybox image archive in `docker save` format, without Docker.

Role: the examples reference ``image = { ref = "dockwright-examples/busybox:latest",
archive = "../images/busybox.tar" }`` because no registry is reachable. This
script writes that archive from Debian's statically linked busybox
(``busybox-static``): one layer holding /bin/busybox, a symlink per applet of
``busybox --list``, /etc/passwd, /etc/group, /tmp, /root and /www; a config
with the layer's diff_id; ``manifest.json`` and ``repositories``. Docker
(``docker load``) and the native runtime read it alike. The output is
reproducible: fixed mtimes, owners and ordering, so equal inputs give equal bytes.

Usage: python scripts/make_busybox_archive.py examples/images/busybox.tar \\
           [--tag dockwright-examples/busybox:latest] [--busybox /bin/busybox]
Stdlib only. Neighbours: examples/*/ (consumers), tests/specs (runs it).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import platform
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

EPOCH = 0  # every mtime in both tars
CREATED = "1970-01-01T00:00:00Z"
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nnobody:x:65534:\n"
ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}


def is_static(binary: bytes) -> bool:
    """An ELF file without a PT_INTERP program header runs in an empty root."""
    if binary[:4] != b"\x7fELF" or binary[4] != 2:  # 64-bit only
        return False
    endian = "<" if binary[5] == 1 else ">"
    phoff = struct.unpack_from(endian + "Q", binary, 0x20)[0]
    phentsize, phnum = struct.unpack_from(endian + "HH", binary, 0x36)
    types = (struct.unpack_from(endian + "I", binary, phoff + i * phentsize)[0]
             for i in range(phnum))
    return 3 not in types  # PT_INTERP


def _info(name: str, kind: bytes, mode: int, size: int = 0, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname = kind, mode, size, link
    info.mtime, info.uid, info.gid, info.uname, info.gname = EPOCH, 0, 0, "root", "root"
    return info


def _tar(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def build_layer(busybox: bytes, applets: list[str]) -> bytes:
    """The root filesystem as one layer tar."""
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for folder, mode in (("bin", 0o755), ("etc", 0o755), ("root", 0o700), ("tmp", 0o1777),
                         ("www", 0o755)):
        entries.append((_info(folder + "/", tarfile.DIRTYPE, mode), None))
    entries.append((_info("bin/busybox", tarfile.REGTYPE, 0o755, len(busybox)), busybox))
    for applet in sorted(set(applets) - {"busybox"}):
        entries.append((_info(f"bin/{applet}", tarfile.SYMTYPE, 0o777, link="busybox"), None))
    for name, text in (("etc/group", GROUP), ("etc/passwd", PASSWD)):
        data = text.encode()
        entries.append((_info(name, tarfile.REGTYPE, 0o644, len(data)), data))
    entries.sort(key=lambda e: e[0].name)
    return _tar(entries)


def build_archive(busybox: bytes, applets: list[str], tag: str) -> bytes:
    """A `docker save` archive holding one image tagged ``tag``."""
    layer = build_layer(busybox, applets)
    layer_id = hashlib.sha256(layer).hexdigest()
    config = json.dumps({
        "architecture": ARCH.get(platform.machine(), platform.machine()),
        "os": "linux",
        "created": CREATED,
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_id}"]},
        "history": [{"created": CREATED, "created_by": "scripts/make_busybox_archive.py"}],
    }, sort_keys=True, separators=(",", ":")).encode()
    config_id = hashlib.sha256(config).hexdigest()
    repo, _, version = tag.rpartition(":") if ":" in tag.rsplit("/", 1)[-1] else (tag, "", "latest")
    manifest = json.dumps([{"Config": f"{config_id}.json", "RepoTags": [f"{repo}:{version}"],
                            "Layers": [f"{layer_id}/layer.tar"]}]).encode()
    repositories = json.dumps({repo: {version: layer_id}}).encode()
    legacy = json.dumps({"id": layer_id, "created": CREATED}).encode()
    files = {
        f"{config_id}.json": config,
        f"{layer_id}/VERSION": b"1.0",
        f"{layer_id}/json": legacy,
        f"{layer_id}/layer.tar": layer,
        "manifest.json": manifest,
        "repositories": repositories,
    }
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = [
        (_info(f"{layer_id}/", tarfile.DIRTYPE, 0o755), None)]
    entries += [(_info(name, tarfile.REGTYPE, 0o644, len(data)), data)
                for name, data in files.items()]
    entries.sort(key=lambda e: e[0].name)
    return _tar(entries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build a busybox `docker save` archive.")
    parser.add_argument("output", type=Path, help="where to write the archive (.tar)")
    parser.add_argument("--tag", default="dockwright-examples/busybox:latest")
    parser.add_argument("--busybox", type=Path, default=Path("/bin/busybox"),
                        help="a statically linked busybox (Debian: busybox-static)")
    args = parser.parse_args(argv)
    try:
        binary = args.busybox.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.busybox}: {exc.strerror} — install busybox-static "
              "(apt-get install busybox-static)", file=sys.stderr)
        return 1
    if not is_static(binary):
        print(f"error: {args.busybox} is not a static 64-bit ELF binary — install "
              "busybox-static, whose /bin/busybox needs no libraries", file=sys.stderr)
        return 1
    listing = subprocess.run([str(args.busybox), "--list"], capture_output=True, text=True,
                             check=True)
    archive = build_archive(binary, listing.stdout.split(), args.tag)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_name(args.output.name + ".tmp")
    tmp.write_bytes(archive)
    tmp.replace(args.output)
    digest = hashlib.sha256(archive).hexdigest()[:12]
    print(f"wrote {args.output} ({len(archive) // 1024} KiB, sha256 {digest}…) as {args.tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
