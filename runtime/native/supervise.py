"""Supervision with conmon: start a container's process, keep its exit code, stop it.

Role: runs ``conmon`` (Debian's) for one container: conmon calls the OCI
runtime (through ``oci``'s wrapper) to create the container, keeps its stdio
in a k8s-file log, writes the exit code into ``<container>/exit/<id>`` and an
``oom`` file into ``<container>/persist`` and outlives the controller. We read
one JSON line from its sync pipe (the container pid, or an error), then
``start`` the container. The container's PID 1 is Debian's static tini
(bind-mounted read-only by ``bundle``) so zombies are reaped and signals are
forwarded. ``stop`` = stop signal, grace period, then KILL. conmon runs the
shim's exit mode as its ``--exit-command``. Neighbours: ``oci`` (runtime
calls), ``records.Layout`` (paths), ``containers`` and ``shim`` (both start
containers through :func:`launch`), ``gc`` (conmon and shim processes, found
with :func:`proc_cmdlines`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from runtime.errors import InvalidRequest, Transient, Unavailable
from runtime.native.oci import OciRuntime
from runtime.native.records import Layout

SYNC_TIMEOUT = 20.0
KILL_WAIT = 2.0  # how long a SIGKILLed conmon may take to be gone


def conmon_binary() -> str:
    path = shutil.which("conmon") or shutil.which("conmon", path="/usr/bin:/usr/libexec/podman")
    if not path:
        raise Unavailable(
            "conmon is not installed", hint="apt-get install conmon (the native runtime needs it)"
        )
    return path


def _read_line(fd: int, timeout: float) -> bytes:
    import select

    buf = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Transient(f"conmon did not answer within {timeout:g}s", retry_after=2.0)
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
    return buf.split(b"\n", 1)[0]


def reset_run_files(lay: Layout) -> None:
    """Forget the previous run's exit/oom/pid files (before a (re)start)."""
    for path in (lay.exit_file, lay.oom_file, lay.pidfile, lay.conmon_pidfile):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    with contextlib.suppress(FileNotFoundError):
        (lay.dir / "oom").unlink()


def launch(
    oci: OciRuntime,
    lay: Layout,
    *,
    name: str,
    tty: bool = False,
    stdin: bool = False,
    exit_command: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[int, int]:
    """Create the container under a new conmon and start it; return (container pid, conmon pid).

    ``exit_command`` (argv) is run by conmon once the container has exited and
    its exit file is written (the shim's exit mode: record, events, restart).
    """
    for d in (lay.exit_dir, lay.persist_dir, lay.socket_dir):
        d.mkdir(parents=True, exist_ok=True)
    end_previous_run(oci, lay)
    reset_run_files(lay)
    cid = lay.id
    args = [
        conmon_binary(), "--api-version", "1", "-c", cid, "-u", cid, "-n", name,
        "-r", str(oci.path), "-b", str(lay.dir), "-p", str(lay.pidfile),
        "-l", f"k8s-file:{lay.log}", "--exit-dir", str(lay.exit_dir),
        "--socket-dir-path", str(lay.socket_dir), "--persist-dir", str(lay.persist_dir),
        "--conmon-pidfile", str(lay.conmon_pidfile), "--log-level", "error",
    ]  # fmt: skip
    if tty:
        args.append("-t")
    if stdin:  # conmon holds the pipe's write end: the process sees an open, idle stdin
        args += ["-i", "--leave-stdin-open"]
    if exit_command:
        args += ["--exit-command", exit_command[0]]
        for arg in exit_command[1:]:
            args += ["--exit-command-arg", arg]
    read_fd, write_fd = os.pipe()
    try:
        with lay.conmon_log.open("ab") as out:
            full_env = {**os.environ, **(env or {}), "_OCI_SYNCPIPE": str(write_fd)}
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                pass_fds=(write_fd,),
                env=full_env,
                cwd=str(lay.dir),
                start_new_session=True,
            )
        os.close(write_fd)
        write_fd = -1
        try:
            line = _read_line(read_fd, SYNC_TIMEOUT)
        finally:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
    pid = _parse_sync(line, lay)
    conmon_pid = int(lay.conmon_pidfile.read_text().strip())
    try:
        oci.start(cid)
    except Exception:
        oci.delete(cid, force=True)
        raise
    return pid, conmon_pid


def end_previous_run(oci: OciRuntime, lay: Layout) -> None:
    """Before a new run of ``lay.id``: its previous conmon killed (and gone), then the
    runtime's state of that run deleted (``--force`` kills what still runs). In that order:
    a conmon that outlives the delete writes the killed process's exit code (137) into the
    exit file of the new run, which then reads as exited (an apply killed between conmon's
    launch and the record of the start leaves exactly that behind)."""
    kill_conmon(lay)
    if (oci.root / lay.id).exists():
        oci.delete(lay.id, force=True)


def _parse_sync(line: bytes, lay: Layout) -> int:
    try:
        data = json.loads(line) if line else {}
    except ValueError:
        data = {}
    pid = data.get("data")
    if isinstance(pid, int) and pid > 0:
        return pid
    message = str(data.get("message") or "").strip()
    if not message:
        with contextlib.suppress(OSError):
            message = lay.conmon_log.read_text(errors="replace").strip()[-2000:]
    low = message.lower()
    if "executable file" in low or "no such file or directory" in low or "permission" in low:
        raise InvalidRequest(
            f"cannot start the container: {message}",
            hint="check the command, entrypoint and working directory exist in the image",
        )
    raise Transient(f"cannot create the container: {message or 'conmon failed'}", retry_after=2.0)


def exit_status(lay: Layout) -> tuple[int, bool] | None:
    """(exit code, oom killed) once conmon has written the exit file, else None."""
    try:
        text = lay.exit_file.read_text().strip()
    except FileNotFoundError:
        return None
    if not text:
        return None
    try:
        code = int(text)
    except ValueError:
        return None
    oom = lay.oom_file.exists() or (lay.dir / "oom").exists()
    if code < 0 or code > 255:  # killed by signal n: conmon reports 128+n
        code = 128 + abs(code) % 128
    if oom:
        code = 137 if code in (0, 137) else code
    return code, oom


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_exit(lay: Layout, timeout: float) -> tuple[int, bool] | None:
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        status = exit_status(lay)
        if status is not None or time.monotonic() >= deadline:
            return status
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def stop(oci: OciRuntime, lay: Layout, signal_name: str, timeout: float) -> tuple[int, bool] | None:
    """Stop signal, wait ``timeout`` s, then KILL; return the exit status (None if unknown)."""
    if exit_status(lay) is not None:
        return exit_status(lay)
    if timeout > 0:
        oci.kill(lay.id, signal_name)
        status = wait_exit(lay, timeout)
        if status is not None:
            return status
    oci.kill(lay.id, "KILL", all_procs=True)
    return wait_exit(lay, 10.0)


def kill_conmon(lay: Layout) -> None:
    """Kill a leftover conmon of this container and wait (at most ``KILL_WAIT``) until it is
    gone: killed, it neither writes the exit file nor runs its exit command (the shim)."""
    try:
        pid = int(lay.conmon_pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    if pid_alive(pid) and _is_conmon_of(pid, lay.id):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
        deadline = time.monotonic() + KILL_WAIT
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.005)  # SIGKILL is delivered asynchronously


def _is_conmon_of(pid: int, cid: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(cmdline) and cmdline[0].endswith(b"conmon") and cid.encode() in cmdline


def proc_cmdlines() -> Iterator[tuple[int, list[bytes]]]:
    """(pid, argv) of every process whose ``/proc/<pid>/cmdline`` can be read now."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            parts = Path(entry.path, "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        yield int(entry.name), parts


def conmon_pids() -> dict[str, int]:
    """Running conmon processes -> the container id (``-c``) each supervises."""
    found: dict[str, int] = {}
    for pid, parts in proc_cmdlines():
        if parts and parts[0].endswith(b"conmon") and b"-c" in parts:
            i = parts.index(b"-c")
            if i + 1 < len(parts):
                found[parts[i + 1].decode(errors="replace")] = pid
    return found
