"""Safe, verified unpacking of one image layer tar into a directory.

Role: turn a layer stream (plain or gzip'd tar) into ``<layers>/<diffid-hex>/``,
a directory ready to be an overlayfs lowerdir. The tar is read once, as a
stream; its sha256 (the diff_id) and, for registry blobs, the sha256 of the
compressed bytes are computed on the way and checked at the end. The layer is
unpacked into a private temporary directory and renamed into place only when
every check passed, so a half-unpacked or forged layer is never visible.

Safety: member names that are absolute or contain ``..`` are refused; nothing
is ever written through a symlink (each parent component is ``lstat``'d);
symlinks whose relative target leaves the layer and hard links to anything
outside the layer are refused (absolute symlink targets are fine: they are
resolved inside the container's root, never here). Ownership, modes, times,
devices and xattrs are kept (we run as root); ``trusted.overlay.*`` xattrs
from the archive are dropped. AUFS whiteouts become overlayfs ones:
``.wh.NAME`` -> character device 0:0 ``NAME``; ``.wh..wh..opq`` -> xattr
``trusted.overlay.opaque=y`` on the directory.

Neighbours: ``runtime.native.archive`` and ``runtime.native.distribution``
provide the streams; ``runtime.native.images`` owns the layer directory.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import os
import shutil
import stat
import tarfile
import uuid
import zlib
from pathlib import Path
from typing import BinaryIO, Protocol, cast

from runtime.errors import ImageError

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_CHUNK = 1 << 20


class LayerEscape(ImageError):
    """A layer tried to write outside its own directory."""


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class HashingReader:
    """A read-only stream wrapper that hashes (sha256) and counts what passes through."""

    def __init__(self, raw: Readable) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1, /) -> bytes:
        data = self._raw.read(n)
        self._hash.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass

    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()


class _Prepend:
    """Give back already-read magic bytes before the rest of a stream."""

    def __init__(self, raw: Readable, prefix: bytes) -> None:
        self._raw = raw
        self._prefix = prefix

    def read(self, n: int = -1, /) -> bytes:
        if not self._prefix:
            return self._raw.read(n)
        if n < 0:
            data, self._prefix = self._prefix + self._raw.read(), b""
            return data
        data, self._prefix = self._prefix[:n], self._prefix[n:]
        return data


def _read_magic(raw: Readable) -> bytes:
    magic = b""
    while len(magic) < 4:
        chunk = raw.read(4 - len(magic))
        if not chunk:
            break
        magic += chunk
    return magic


def unpack_layer(
    stream: Readable,
    layers_dir: Path,
    diff_id: str,
    *,
    digest: str | None = None,
    what: str = "layer",
) -> Path:
    """Unpack ``stream`` into ``layers_dir/<diff_id hex>`` and return that directory.

    ``diff_id`` is checked against the sha256 of the uncompressed tar;
    ``digest`` (when given) against the sha256 of the bytes as read (a
    registry blob). Already-present layers are not unpacked again. Raises
    ``ImageError`` (``LayerEscape`` for escapes) with nothing left behind;
    errors of ``stream`` itself that are already ``runtime.errors`` (a network
    stream's ``Transient``) pass through unchanged.
    """
    hex_ = _hex_of(diff_id, what)
    final = layers_dir / hex_
    if final.is_dir():
        return final
    layers_dir.mkdir(parents=True, exist_ok=True)
    tmp = layers_dir / f".tmp-{hex_[:16]}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(mode=0o755)
    os.chmod(tmp, 0o755)
    try:
        outer = HashingReader(stream)
        magic = _read_magic(outer)
        if magic.startswith(_ZSTD_MAGIC):
            raise ImageError(
                f"{what} is zstd-compressed, which this runtime cannot unpack",
                hint="re-push the image with gzip layers (e.g. `docker push`), or load it"
                " with `docker save`",
            )
        replay = _Prepend(outer, magic)
        if magic.startswith(_GZIP_MAGIC):
            inner = HashingReader(gzip.GzipFile(fileobj=cast(BinaryIO, replay), mode="rb"))
        else:
            inner = HashingReader(replay)
        try:
            _Extractor(tmp, what).run(inner)
            inner.drain()
            outer.drain()
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            if digest is not None:  # corrupt download? say so rather than "bad gzip"
                with contextlib.suppress(OSError, EOFError):
                    outer.drain()
                    if outer.digest() != digest:
                        raise _digest_mismatch(what, outer.digest(), digest) from exc
            if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile) and exc.errno:
                raise ImageError(
                    f"cannot unpack {what} into {layers_dir}: {exc}",
                    hint="check free space and that the state folder is on a local filesystem"
                    " that supports xattrs and device nodes (ext4, xfs)",
                ) from exc
            raise ImageError(
                f"{what} is not a valid (gzip'd) tar: {exc}",
                hint="the archive or registry blob is corrupt; save or push the image again",
            ) from exc
        if digest is not None and outer.digest() != digest:
            raise _digest_mismatch(what, outer.digest(), digest)
        if inner.digest() != diff_id:
            raise ImageError(
                f"{what}: uncompressed content has sha256 {inner.digest()}, but the image"
                f" config says diff_id {diff_id}",
                hint="the archive is corrupt or was tampered with; save or pull the image again",
            )
        try:
            os.rename(tmp, final)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise ImageError(f"cannot move {what} into {final}: {exc}") from exc
            shutil.rmtree(tmp, ignore_errors=True)  # another loader won the race: same content
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _digest_mismatch(what: str, got: str, expected: str) -> ImageError:
    return ImageError(f"{what}: content has digest {got}, expected {expected}",
                      hint="the blob was corrupted in transit or storage; pull or save it again")


def _hex_of(digest: str, what: str) -> str:
    algo, _, hex_ = digest.partition(":")
    if algo != "sha256" or len(hex_) != 64 or any(c not in "0123456789abcdef" for c in hex_):
        raise ImageError(f"{what}: unsupported or malformed digest {digest!r}",
                         hint="only sha256 digests are supported")
    return hex_


class _Extractor:
    """Extracts the members of one tar stream below ``root``, refusing escapes."""

    def __init__(self, root: Path, what: str) -> None:
        self.root = str(root)
        self.what = what
        self._dirs: set[str] = set()  # verified real directories (relative paths)
        self._dir_times: list[tuple[str, int]] = []

    def run(self, stream: Readable) -> None:
        fileobj = cast(BinaryIO, stream)
        with tarfile.open(fileobj=fileobj, mode="r|", errors="surrogateescape") as tar:
            for member in tar:
                self._member(tar, member)
        for path, mtime in reversed(self._dir_times):  # last: writing into dirs changes them
            with contextlib.suppress(FileNotFoundError):  # replaced later in the tar
                if stat.S_ISDIR(os.lstat(path).st_mode):
                    os.utime(path, (mtime, mtime), follow_symlinks=False)

    def _fail(self, member: tarfile.TarInfo, why: str) -> LayerEscape:
        return LayerEscape(
            f"{self.what}: refusing tar member {member.name!r}: {why}",
            hint="the image is malformed or malicious; rebuild it from a trusted source",
        )

    def _parts(self, member: tarfile.TarInfo, name: str) -> list[str]:
        if name.startswith("/"):
            raise self._fail(member, "absolute path")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise self._fail(member, "path contains '..'")
        return parts

    def _parent(self, member: tarfile.TarInfo, parts: list[str]) -> str:
        """The real (symlink-free) directory holding ``parts[-1]``; created when missing."""
        path = self.root
        rel = ""
        for part in parts[:-1]:
            rel = f"{rel}/{part}"
            path = self.root + rel
            if rel in self._dirs:
                continue
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                os.mkdir(path, 0o755)
                self._dirs.add(rel)
                continue
            if stat.S_ISLNK(st.st_mode):
                raise self._fail(member, f"it would be written through the symlink {rel[1:]!r}")
            if not stat.S_ISDIR(st.st_mode):
                raise self._fail(member, f"{rel[1:]!r} is not a directory")
            self._dirs.add(rel)
        return path

    def _clear(self, path: str, keep_dir: bool) -> bool:
        """Remove what exists at ``path``; return True when a directory was kept."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return True
            shutil.rmtree(path)
        else:
            os.unlink(path)
        self._dirs.clear()  # a replaced path may have been a cached parent
        return False

    def _member(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = self._parts(member, member.name)
        if not parts:  # the layer root itself ("./")
            if member.isdir():
                self._meta(self.root, member)
            return
        base = parts[-1]
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout(member, parts)
            return
        parent = self._parent(member, parts)
        path = os.path.join(parent, base)
        if member.isdir():
            if not self._clear(path, keep_dir=True):
                os.mkdir(path, 0o700)
            self._dirs.add("/" + "/".join(parts))
        else:
            self._clear(path, keep_dir=False)
            if member.isreg():
                fileobj = tar.extractfile(member)
                assert fileobj is not None
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(fileobj, out, _CHUNK)
            elif member.issym():
                self._check_symlink(member, parts)
                os.symlink(member.linkname, path)
            elif member.islnk():
                os.link(self._link_target(member), path, follow_symlinks=False)
                return  # a hard link shares the target's inode and metadata
            elif member.ischr() or member.isblk() or member.isfifo():
                kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK if member.isblk() else (
                    stat.S_IFIFO)
                os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
            else:
                raise self._fail(member, f"unsupported tar member type {member.type!r}")
        self._meta(path, member)

    def _check_symlink(self, member: tarfile.TarInfo, parts: list[str]) -> None:
        target = member.linkname
        if target.startswith("/"):
            return  # resolved inside the container's root at run time
        depth = 0
        for part in [*parts[:-1], *target.split("/")]:
            if part in ("", "."):
                continue
            depth = depth - 1 if part == ".." else depth + 1
            if depth < 0:
                raise self._fail(member, f"symlink target {target!r} points outside the layer")

    def _link_target(self, member: tarfile.TarInfo) -> str:
        parts = self._parts(member, member.linkname)
        if not parts:
            raise self._fail(member, "hard link to the layer root")
        target = os.path.join(self._parent(member, parts), parts[-1])
        try:
            st = os.lstat(target)
        except FileNotFoundError:
            raise self._fail(member, f"hard link target {member.linkname!r} is not in the layer"
                             ) from None
        if stat.S_ISDIR(st.st_mode):
            raise self._fail(member, "hard link to a directory")
        return target

    def _whiteout(self, member: tarfile.TarInfo, parts: list[str]) -> None:
        base = parts[-1]
        parent = self._parent(member, parts)
        if base == WHITEOUT_OPAQUE:
            os.setxattr(parent, OPAQUE_XATTR, b"y")
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return  # other AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): meaningless here
        name = base[len(WHITEOUT_PREFIX):]
        if name in ("", ".", ".."):
            raise self._fail(member, "malformed whiteout name")
        path = os.path.join(parent, name)
        self._clear(path, keep_dir=False)
        os.mknod(path, stat.S_IFCHR, os.makedev(0, 0))
        os.lchown(path, 0, 0)

    def _meta(self, path: str, member: tarfile.TarInfo) -> None:
        os.lchown(path, member.uid, member.gid)
        if not member.issym():
            os.chmod(path, member.mode & 0o7777)  # after chown, which clears set-id bits
        for key, value in member.pax_headers.items():
            if not key.startswith("SCHILY.xattr."):
                continue
            name = key[len("SCHILY.xattr."):]
            if name.startswith("trusted.overlay."):
                continue  # only we decide what overlayfs sees
            raw = value.encode("utf-8", "surrogateescape")
            try:
                os.setxattr(path, name, raw, follow_symlinks=False)
            except OSError as exc:
                if exc.errno not in (errno.ENOTSUP, errno.EPERM):
                    raise
        if member.isdir():
            self._dir_times.append((path, int(member.mtime)))
        else:
            os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
