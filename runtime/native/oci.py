"""The OCI runtime (crun or runc): detection, the hybrid-cgroup workaround, calls.

Role: the only module that runs the OCI runtime binary. At start-up it picks
crun (faster) or runc, detects the host's cgroup mode and writes a tiny
wrapper script ``<state_dir>/bin/oci-runtime`` that every caller uses (conmon
via ``-r``, and this module for ``state/kill/delete/list/exec``): it passes a
private ``--root`` under the state folder, and on hybrid hosts (cgroup v1
controllers plus cgroup2 at ``/sys/fs/cgroup/unified``), where crun 1.8
refuses to run, it runs crun in a private mount namespace with the cgroup2
mount detached (nothing changes on the host). Every call has a timeout; stdio
goes to files and stdin is /dev/null (crun with pipes can hang the caller).
Neighbours: ``supervise`` (conmon runs the runtime through the wrapper),
``gc`` (``list``), ``driver`` (``exec``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runtime.errors import InvalidRequest, NotFound, RuntimeError_, Transient, Unavailable
from runtime.types import ExecResult

UNIFIED = "/sys/fs/cgroup/unified"


def cgroup_mode() -> str:
    """``"v2"`` (pure unified), ``"hybrid"`` (v1 + cgroup2 at .../unified) or ``"v1"``."""
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    fs_at = {parts[1]: parts[2] for parts in (m.split() for m in mounts) if len(parts) > 2}
    if fs_at.get("/sys/fs/cgroup") == "cgroup2":
        return "v2"
    if fs_at.get(UNIFIED) == "cgroup2":
        return "hybrid"
    return "v1"


def _find(names: Sequence[str]) -> tuple[str, str] | None:
    for name in names:
        path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
        if path:
            return name, path
    return None


class OciRuntime:
    """crun or runc behind a wrapper script with a private state root."""

    def __init__(self, state_dir: Path, prefer: str | None = None) -> None:
        env_choice = os.environ.get("DOCKWRIGHT_OCI_RUNTIME", "")
        names = [prefer] if prefer else [env_choice, "crun", "runc"]
        found = _find([n for n in names if n])
        if found is None:
            raise Unavailable(
                "no OCI runtime found (crun or runc)",
                hint="install crun or runc (apt-get install crun), or use --runtime docker",
            )
        self.name, self.binary = found
        self.mode = cgroup_mode()
        self.root = state_dir / "oci"
        self.root.mkdir(parents=True, exist_ok=True)
        bindir = state_dir / "bin"
        bindir.mkdir(parents=True, exist_ok=True)
        self.path = bindir / "oci-runtime"
        base = f'{self.binary} --root "{self.root}"'
        if self.name == "crun" and self.mode == "hybrid":
            body = (
                "exec unshare -m --propagation private sh -c "
                f"'umount -l {UNIFIED} 2>/dev/null; exec \"$0\" \"$@\"' {base} \"$@\"\n"
            )
        else:
            body = f'exec {base} "$@"\n'
        script = "#!/bin/sh\n# written by dockwright (runtime.native.oci)\n" + body
        if not self.path.exists() or self.path.read_text() != script:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(script)
            tmp.chmod(0o755)
            tmp.replace(self.path)

    # plumbing -----------------------------------------------------------------
    def call(self, *args: str, timeout: float = 15.0, direct: bool = False) -> str:
        """Run the runtime with ``args``; return stdout. Raise a runtime error on failure.

        ``direct`` skips the wrapper (and its mount namespace): for calls that touch
        no cgroup (start, state, list, kill), ~3 ms faster each.
        """
        argv = [self.binary, "--root", str(self.root)] if direct else [str(self.path)]
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                proc = subprocess.run(
                    [*argv, *args],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise Transient(
                    f"{self.name} {args[0]} timed out after {timeout:g}s", retry_after=2.0
                ) from exc
            except OSError as exc:
                raise Unavailable(f"cannot run {self.path}: {exc}") from exc
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode(errors="replace")
            stderr = err.read().decode(errors="replace").strip()
        if proc.returncode != 0:
            raise _classify(self.name, args, stderr or stdout)
        return stdout

    # operations ---------------------------------------------------------------
    def state(self, cid: str) -> dict[str, Any] | None:
        """The runtime's state of ``cid`` (``status``: created/running/stopped), None if unknown."""
        try:
            data: dict[str, Any] = json.loads(self.call("state", cid, timeout=10.0, direct=True))
        except NotFound:
            return None
        return data

    def list(self) -> list[dict[str, Any]]:
        out = self.call("list", "--format", "json", timeout=10.0, direct=True).strip()
        if not out or out == "null":
            return []
        data: list[dict[str, Any]] = json.loads(out)
        return data

    def start(self, cid: str) -> None:
        self.call("start", cid, direct=True)

    def kill(self, cid: str, sig: str | int = "TERM", *, all_procs: bool = False) -> None:
        """Send ``sig`` to the container's init; a stopped or missing container is not an error."""
        name = sig if isinstance(sig, str) else signal.Signals(sig).name
        name = name.removeprefix("SIG")
        args = ["kill", *(["--all"] if all_procs else []), cid, name]
        try:
            self.call(*args, timeout=10.0, direct=True)
        except (NotFound, InvalidRequest):
            return

    def delete(self, cid: str, *, force: bool = True) -> None:
        """Delete the runtime's container (and its cgroup); a missing one is not an error."""
        try:
            self.call("delete", *(["--force"] if force else []), cid, timeout=15.0)
        except NotFound:
            return

    def exec(
        self, cid: str, process: dict[str, Any], *, timeout: float = 60.0, tty: bool = False
    ) -> ExecResult:
        """Run ``process`` (an OCI process object) in ``cid``; output (stdout+stderr) captured.

        With ``tty`` the process gets a pseudo-terminal made here (its stdio is the
        pty's slave end) rather than the runtime's console socket protocol.
        """
        with tempfile.TemporaryDirectory(prefix="dw-exec-") as tmp:
            spec = Path(tmp) / "process.json"
            spec.write_text(json.dumps({**process, "terminal": False}))
            argv = [str(self.path), "exec", "--process", str(spec), cid]
            try:
                if tty:
                    code, output = _run_on_pty(argv, timeout)
                else:
                    code, output = _run_to_file(argv, Path(tmp) / "out", timeout)
            except subprocess.TimeoutExpired as exc:
                raise Transient(
                    f"exec in {cid[:12]} did not finish within {timeout:g}s", retry_after=1.0
                ) from exc
        if code != 0 and _is_runtime_failure(output):
            raise _classify(self.name, ("exec",), output.decode(errors="replace").strip())
        return ExecResult(exit_code=code, output=output)


def _run_to_file(argv: list[str], outfile: Path, timeout: float) -> tuple[int, bytes]:
    with outfile.open("wb") as out:
        proc = subprocess.run(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            timeout=timeout, check=False, start_new_session=True,
        )  # fmt: skip
    return proc.returncode, outfile.read_bytes()


def _run_on_pty(argv: list[str], timeout: float) -> tuple[int, bytes]:
    import select

    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
        )
        os.close(slave)
        slave = -1
        chunks: list[bytes] = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                proc.kill()
                raise subprocess.TimeoutExpired(argv, timeout)
            ready, _, _ = select.select([master], [], [], min(left, 0.2))
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every slave end is closed
                    data = b""
                if not data:
                    break
                chunks.append(data)
        return proc.wait(timeout=max(1.0, deadline - time.monotonic())), b"".join(chunks)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)


def _is_runtime_failure(output: bytes) -> bool:
    text = output.decode(errors="replace")
    return any(
        marker in text
        for marker in (
            "container does not exist",
            "is not running",
            "executable file not found",
            "no such file or directory: OCI",
            "exec failed:",
        )
    ) and len(text) < 2000


def _classify(name: str, args: Sequence[str], message: str) -> RuntimeError_:
    low = message.lower()
    what = f"{name} {args[0] if args else ''}: {message}"
    if "does not exist" in low or "not found" in low or "no such file" in low:
        return NotFound(what)
    if "not running" in low or "is stopped" in low or "container not running" in low:
        return InvalidRequest(what, hint="start the container first")
    if "executable file" in low or ("permission denied" in low and "exec" in low):
        return InvalidRequest(what, hint="check the command exists in the image")
    return Transient(what, retry_after=2.0)
