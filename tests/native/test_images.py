"""The native image store against real archives, crafted layers and overlayfs.

Role: tests of ``runtime.native.images`` with ``archive`` and ``unpack``
behind it: ``docker save`` archives of the real busybox test image, crafted
archives (whiteouts checked through a real overlay mount, path escapes,
corrupt layers, OCI layouts) and concurrent loads from threads and processes.
Runs as root (device nodes, ``trusted.*`` xattrs, mounts). Neighbours:
``tests/native/image_helpers.py`` (archive crafting, fixtures),
``tests/native/test_images_pull.py`` (registry pulls).
"""

from __future__ import annotations

import gzip
import os
import stat
import subprocess
import sys
import tarfile
import threading
from pathlib import Path
from typing import Any

import pytest

from runtime.errors import ImageError, InvalidRequest, NotFound
from runtime.native.archive import ImageArchive
from runtime.native.images import ImageStore
from runtime.native.reference import parse_reference
from runtime.native.unpack import LayerEscape
from tests.native.image_helpers import (
    api_fixture,
    busybox_tar_fixture,
    docker_archive,
    entry,
    oci_archive,
    sha256,
    store_fixture,
    store_is_clean,
    tar_bytes,
)

pytestmark = pytest.mark.native
FIXTURES = (api_fixture, busybox_tar_fixture, store_fixture)  # used by name
ROOT = Path(__file__).resolve().parents[2]


# docker save archives -------------------------------------------------------------
def test_load_docker_save_archive_of_busybox(api: Any, busybox_tar: Path, store: ImageStore,
                                             tmp_path: Path) -> None:
    assert store.load_archive(busybox_tar) == ["dockwright-test/busybox:latest"]
    image = store.get("dockwright-test/busybox")  # the default tag is :latest
    assert image is not None
    assert image.id == api.inspect_image("dockwright-test/busybox:latest")["Id"]
    assert image.refs == ("dockwright-test/busybox:latest",)
    assert image.info.id == image.id and image.info.refs == image.refs
    assert image.info.command == ("sh",) and image.info.entrypoint is None
    assert dict(image.info.env)["PATH"].startswith("/usr/local/sbin:")
    assert image.config["rootfs"]["diff_ids"][0] == "sha256:" + image.layers[0].name
    bottom, top = image.layers
    busybox = bottom / "bin" / "busybox"
    assert busybox.is_file() and os.access(busybox, os.X_OK)
    assert os.readlink(top / "bin" / "sh") == "/bin/busybox"
    assert oct(bottom.stat().st_mode & 0o777) == "0o755"  # an overlay lowerdir root
    assert store.get(image.id) == image == store.get(image.id[7:19])
    assert store.get("dockwright-test/busybox:other") is None
    # the same archive again (also gzip'd as a whole) changes nothing
    gz = tmp_path / "busybox.tar.gz"
    gz.write_bytes(gzip.compress(busybox_tar.read_bytes(), compresslevel=1))
    assert store.load_archive(gz) == ["dockwright-test/busybox:latest"]
    assert sorted(p.name for p in store.layers.iterdir()) == sorted(p.name for p in image.layers)
    assert [i.id for i in store.images()] == [image.id]


def test_remove_untags_and_prune_frees_unused_layers(busybox_tar: Path, store: ImageStore) -> None:
    store.load_archive(busybox_tar)
    image = store.get("dockwright-test/busybox:latest")
    assert image is not None
    store.remove("dockwright-test/busybox:latest")
    assert store.get("dockwright-test/busybox:latest") is None and store.get(image.id) is None
    with pytest.raises(NotFound, match="no image"):
        store.remove("dockwright-test/busybox:latest")
    assert store.prune(keep=[image.id]) == []  # a container still uses it: layers stay
    assert all(layer.is_dir() for layer in image.layers)
    store.prune()
    assert not any(store.layers.iterdir()) and not any(store.blobs.iterdir())


def test_image_config_maps_onto_image_info(tmp_path: Path, store: ImageStore) -> None:
    layer = tar_bytes(entry("etc/", tarfile.DIRTYPE, mode=0o755), entry("etc/motd", data=b"hi"))
    docker_archive(
        tmp_path / "a.tar", [layer], ["example.org:5000/team/app:1.0"],
        Env=["A=1", "B=x=y", "EMPTY="], Cmd=["serve", "--port", "80"], Entrypoint=["/init"],
        WorkingDir="/srv", User="1000:1000", Labels={"b": "2", "a": "1"},
        ExposedPorts={"8080/tcp": {}, "53/udp": {}}, StopSignal="SIGQUIT",
        Healthcheck={"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000,
                     "Timeout": 1_500_000_000, "Retries": 3, "StartPeriod": 0},
    )
    assert store.load_archive(tmp_path / "a.tar") == ["example.org:5000/team/app:1.0"]
    image = store.get("example.org:5000/team/app:1.0")
    assert image is not None
    info = image.info
    assert info.env == (("A", "1"), ("B", "x=y"), ("EMPTY", ""))
    assert info.command == ("serve", "--port", "80") and info.entrypoint == ("/init",)
    assert (info.workdir, info.user, info.stop_signal) == ("/srv", "1000:1000", "SIGQUIT")
    assert info.labels == (("a", "1"), ("b", "2"))
    assert info.exposed_ports == ("53/udp", "8080/tcp")
    assert info.healthcheck is not None
    assert info.healthcheck.test == ("CMD-SHELL", "true")
    assert (info.healthcheck.interval, info.healthcheck.timeout) == (5.0, 1.5)
    assert (info.healthcheck.retries, info.healthcheck.start_period) == (3, None)


# whiteouts, metadata, overlayfs ----------------------------------------------------------
def test_whiteouts_become_overlayfs_whiteouts(tmp_path: Path, store: ImageStore) -> None:
    lower = tar_bytes(
        entry("etc/", tarfile.DIRTYPE, mode=0o755),
        entry("etc/keep", data=b"keep"), entry("etc/gone", data=b"gone"),
        entry("opq/", tarfile.DIRTYPE, mode=0o750, uid=7, gid=8),
        entry("opq/old", data=b"old"),
        entry("bin/", tarfile.DIRTYPE, mode=0o755),
        entry("bin/tool", data=b"#!", mode=0o4755, uid=1000, gid=1000,
              pax={"SCHILY.xattr.user.origin": "layer0",
                   "SCHILY.xattr.user.bin": b"\x01\xff\x00z".decode("utf-8", "surrogateescape"),
                   "SCHILY.xattr.trusted.overlay.redirect": "/etc"}),
        entry("bin/tool2", tarfile.LNKTYPE, link="bin/tool"),
        entry("dev/", tarfile.DIRTYPE, mode=0o755),
        entry("dev/fifo", tarfile.FIFOTYPE, mode=0o600),
    )
    upper = tar_bytes(
        entry("etc/", tarfile.DIRTYPE, mode=0o755),
        entry("etc/.wh.gone"),
        entry("opq/", tarfile.DIRTYPE, mode=0o750, uid=7, gid=8),
        entry("opq/.wh..wh..opq"),
        entry("opq/new", data=b"new"),
        entry(".wh..wh.plnk/", tarfile.DIRTYPE),
    )
    docker_archive(tmp_path / "w.tar", [lower, upper], ["dwt/whiteout:1"], gzipped=frozenset({1}))
    store.load_archive(tmp_path / "w.tar")
    image = store.get("dwt/whiteout:1")
    assert image is not None
    low, up = image.layers
    tool = low / "bin" / "tool"
    st = tool.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1000, 0o4755)
    assert os.getxattr(tool, "user.origin") == b"layer0"
    assert os.getxattr(tool, "user.bin") == b"\x01\xff\x00z"  # binary values survive
    assert "trusted.overlay.redirect" not in os.listxattr(tool)  # never taken from archives
    assert (low / "bin" / "tool2").stat().st_ino == st.st_ino
    assert stat.S_ISFIFO((low / "dev" / "fifo").lstat().st_mode)
    assert (low / "opq").stat().st_uid == 7
    gone = (up / "etc" / "gone").lstat()
    assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == 0
    assert (gone.st_uid, gone.st_gid) == (0, 0)
    assert os.getxattr(up / "opq", "trusted.overlay.opaque") == b"y"
    assert (up / "opq" / "new").read_bytes() == b"new"
    assert not [p for p in up.rglob("*") if p.name.startswith(".wh.")]
    # what overlayfs makes of it: the whiteout hides etc/gone, the opaque dir hides opq/old
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={up}:{low}", str(mnt)],
                   check=True)
    try:
        assert sorted(os.listdir(mnt / "etc")) == ["keep"]
        assert sorted(os.listdir(mnt / "opq")) == ["new"]
        assert (mnt / "bin" / "tool").read_bytes() == b"#!"
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


# safety -----------------------------------------------------------------------------
@pytest.mark.parametrize(("case", "message"), [
    ("dotdot", "path contains '..'"),
    ("absolute", "absolute path"),
    ("write-through-symlink", "written through the symlink"),
    ("relative-symlink-escape", "points outside the layer"),
    ("hardlink-outside", "absolute path"),
    ("hardlink-missing", "is not in the layer"),
])
def test_path_escapes_are_refused(tmp_path: Path, store: ImageStore, case: str,
                                  message: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_bytes(b"original")
    depth = "../" * (len(store.layers.parts) + 2)
    evil = {
        "dotdot": [entry(f"{depth}{str(outside).lstrip('/')}/evil", data=b"x")],
        "absolute": [entry(f"{outside}/evil", data=b"x")],
        "write-through-symlink": [entry("link", tarfile.SYMTYPE, link=str(outside)),
                                  entry("link/evil", data=b"x")],
        "relative-symlink-escape": [entry("a/", tarfile.DIRTYPE),
                                    entry("a/up", tarfile.SYMTYPE, link="../../victim")],
        "hardlink-outside": [entry("hl", tarfile.LNKTYPE, link=f"{outside}/victim")],
        "hardlink-missing": [entry("hl", tarfile.LNKTYPE, link="not/here")],
    }[case]
    layer = tar_bytes(entry("ok", data=b"fine"), *evil)
    docker_archive(tmp_path / "evil.tar", [layer], ["dwt/evil:1"])
    with pytest.raises(LayerEscape, match=message) as caught:
        store.load_archive(tmp_path / "evil.tar")
    assert "refusing tar member" in str(caught.value) and caught.value.hint
    assert sorted(os.listdir(outside)) == ["victim"]
    assert (outside / "victim").read_bytes() == b"original"
    assert store_is_clean(store) and store.get("dwt/evil:1") is None


def test_corrupt_layer_is_refused(tmp_path: Path, store: ImageStore) -> None:
    layer = tar_bytes(entry("file", data=b"payload"))
    forged = tar_bytes(entry("file", data=b"other"))
    docker_archive(tmp_path / "bad.tar", [layer], ["dwt/bad:1"], diff_ids=[sha256(forged)])
    with pytest.raises(ImageError, match="diff_id") as caught:
        store.load_archive(tmp_path / "bad.tar")
    assert "save or pull the image again" in str(caught.value)
    assert store_is_clean(store) and store.get("dwt/bad:1") is None
    (tmp_path / "junk.tar").write_bytes(b"not a tar at all" * 100)
    with pytest.raises(ImageError, match="not a readable tar"):
        store.load_archive(tmp_path / "junk.tar")
    with pytest.raises(NotFound):
        store.load_archive(tmp_path / "missing.tar")
    zstd = b"\x28\xb5\x2f\xfd" + b"\0" * 64
    docker_archive(tmp_path / "zstd.tar", [zstd], ["dwt/zstd:1"])
    with pytest.raises(ImageError, match="zstd-compressed"):
        store.load_archive(tmp_path / "zstd.tar")
    truncated = gzip.compress(layer)[:-20]
    docker_archive(tmp_path / "cut.tar", [truncated], ["dwt/cut:1"], diff_ids=[sha256(layer)])
    with pytest.raises(ImageError, match="not a valid"):
        store.load_archive(tmp_path / "cut.tar")
    assert store_is_clean(store)


def test_oci_layout_archive(tmp_path: Path, store: ImageStore) -> None:
    layers = [tar_bytes(entry("a", data=b"1")), tar_bytes(entry("b", data=b"2"))]
    image_id = oci_archive(tmp_path / "oci.tar", layers, "registry.example/dwt/oci:2",
                           Cmd=["/a"])
    assert store.load_archive(tmp_path / "oci.tar") == ["registry.example/dwt/oci:2"]
    image = store.get("registry.example/dwt/oci:2")
    assert image is not None and image.id == image_id and image.info.command == ("/a",)
    assert [p.name for p in image.layers] == [sha256(layer)[7:] for layer in layers]
    assert (image.layers[1] / "b").read_bytes() == b"2"
    layout = tmp_path / "layout"  # the same as an OCI layout directory
    layout.mkdir()
    with tarfile.open(tmp_path / "oci.tar") as tar:  # regular files only: no filter needed
        for member in tar.getmembers():
            (layout / member.name).parent.mkdir(parents=True, exist_ok=True)
            stream = tar.extractfile(member)
            assert stream is not None
            (layout / member.name).write_bytes(stream.read())
    store.remove("registry.example/dwt/oci:2")
    store.prune()
    assert store.load_archive(layout) == ["registry.example/dwt/oci:2"]
    assert store.get(image_id) is not None


def test_concurrent_loads_of_one_archive(busybox_tar: Path, store: ImageStore) -> None:
    code = ("import sys; from pathlib import Path; from runtime.native.images import ImageStore;"
            "print(ImageStore(Path(sys.argv[1])).load_archive(Path(sys.argv[2])))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(store.root), str(busybox_tar)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    results: list[object] = []

    def load() -> None:
        try:
            results.append(store.load_archive(busybox_tar))
        except Exception as exc:  # collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        assert out.decode().strip() == "['dockwright-test/busybox:latest']"
    assert results == [["dockwright-test/busybox:latest"]] * 3
    image = store.get("dockwright-test/busybox:latest")
    assert image is not None and (image.layers[0] / "bin" / "busybox").is_file()
    assert sorted(p.name for p in store.layers.iterdir()) == sorted(p.name for p in image.layers)
    assert not [p for p in store.blobs.iterdir() if p.name.startswith(".tmp")]


def test_reference_normalisation() -> None:
    hub = parse_reference("busybox")
    assert (hub.api_host, hub.repository, hub.tag) == ("registry-1.docker.io", "library/busybox",
                                                       "latest")
    assert hub.familiar() == "busybox:latest"
    assert parse_reference("docker.io/library/busybox").familiar() == "busybox:latest"
    local = parse_reference("127.0.0.1:5000/a/b@sha256:" + "0" * 64)
    assert (local.api_host, local.tag, local.reference) == ("127.0.0.1:5000", None, local.digest)
    with pytest.raises(InvalidRequest, match="invalid repository name"):
        parse_reference("Busybox")


def test_repeated_layers_are_listed_once_for_overlayfs(tmp_path: Path, store: ImageStore) -> None:
    empty = tar_bytes()
    middle = tar_bytes(entry("m", data=b"m"))
    docker_archive(tmp_path / "r.tar", [empty, middle, empty], ["dwt/repeat:1"])
    image = store.get(store.load_archive(tmp_path / "r.tar")[0])
    assert image is not None
    assert [p.name for p in image.layers] == [sha256(middle)[7:], sha256(empty)[7:]]
    assert len(image.config["rootfs"]["diff_ids"]) == 3
    with ImageArchive(tmp_path / "r.tar") as archive:  # layer 3 is a symlink to layer 1
        assert archive.open("l2/layer.tar").read() == empty
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    lower = ":".join(str(p) for p in reversed(image.layers))
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower}", str(mnt)],
                   check=True)
    try:
        assert (mnt / "m").read_bytes() == b"m"
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
