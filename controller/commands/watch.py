"""``dockwright watch DIR``: run the reconciling service in the foreground.

Role: the CLI face of ``controller.service.loop.WatchService``. It parses the
service's options, picks the spec source (a folder, or ``--git`` through
``controller.service.gitsource``), takes the project's lock (``controller.service.lock``;
``--wait-lock`` waits for the holder instead of failing), optionally serves
``controller.service.httpd`` on ``--listen`` (a non-loopback address is refused with
exit 2 unless ``--webhook-secret-file`` makes the webhook signed, or
``--insecure-listen``; the secret is read once, ``controller.service.webhook``), and
runs until SIGTERM/SIGINT, then stops cleanly and exits 0 (containers keep running).
SIGHUP asks for a pass.
Neighbours: ``controller.cli`` (dispatch, global ``--project``, ``--runtime``,
``--state-dir``, ``--log-format``, ``-v``), ``runtime.registry`` (the driver),
``controller.service.journalfeed`` (the journal, unless ``--no-journal``).
Heavy imports happen inside the handler so that CLI start-up stays lean.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def duration(text: str) -> float:
    """``60``, ``60s``, ``1m30s`` -> seconds (argparse type)."""
    try:
        return float(text)
    except ValueError:
        pass
    from specs.units import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (e.g. 60s, 1m30s)") from exc


def register(sub: Any) -> None:
    """Add ``watch`` to the CLI's subparsers."""
    p = sub.add_parser("watch", help="reconcile continuously: a service that heals and shows state")
    p.add_argument("dir", type=Path, nargs="?", default=None,
                   help="the spec directory (omit with --git)")
    git = p.add_argument_group("git source")
    git.add_argument("--git", metavar="URL", help="follow a git repository instead of a folder")
    git.add_argument("--branch", default="main", help="branch to follow (default: main)")
    git.add_argument("--path", default="", help="spec folder inside the repository")
    git.add_argument("--interval", type=duration, default=60.0,
                     help="fetch interval (default: 60s); POST /hooks/git fetches at once")
    git.add_argument("--cache-dir", type=Path, default=None,
                     help="clone cache (default: /var/cache/dockwright as root, else "
                          "~/.cache/dockwright)")
    p.add_argument("--listen", metavar="ADDR",
                   help="serve the dashboard (/) and /healthz /readyz /status /metrics on "
                        "HOST:PORT, e.g. 127.0.0.1:9180")
    p.add_argument("--webhook-secret-file", type=Path, metavar="FILE",
                   help="accept POST /hooks/git only when signed with the secret in FILE "
                        "(GitHub X-Hub-Signature-256, GitLab X-Gitlab-Token)")
    p.add_argument("--insecure-listen", action="store_true",
                   help="allow --listen on a non-loopback address without a webhook secret")
    p.add_argument("--resync", type=duration, default=60.0,
                   help="full pass at least this often (default: 60s; 0 disables)")
    p.add_argument("--wait-lock", action="store_true",
                   help="wait for another controller of the project to finish instead of failing")
    p.add_argument("--stop-timeout", type=duration, default=10.0,
                   help="on SIGTERM, wait this long for the in-flight pass (default: 10s)")
    p.add_argument("--no-prune", action="store_true", help="never remove undeclared containers")
    from controller.commands._common import add_journal_options

    add_journal_options(p)
    p.set_defaults(func=run_watch)


def _journal(args: argparse.Namespace) -> Any:
    """The service's journal (None with ``--no-journal``)."""
    if not args.journal:
        return None
    from controller.commands._common import journal_file, journal_limits
    from controller.service.journalfeed import ServiceJournal

    max_age, max_bytes = journal_limits(args)
    return ServiceJournal(journal_file(args), args.runtime, max_age=max_age,
                          max_bytes=max_bytes)


def _watch_swarm(args: argparse.Namespace, root: Path, project: str,
                 stop: threading.Event, git: Any = None, secret: bytes | None = None) -> int:
    """The Swarm service (``controller.service.swarmwatch``) until SIGTERM/SIGINT; ``git``:
    the ``--git`` source (a GitSource) whose checked-out revisions it applies; with
    ``--listen``, the same HTTP endpoint and dashboard as on the other runtimes."""
    from controller.service.swarmwatch import SwarmWatch

    service = SwarmWatch(root, project, resync=args.resync, prune=not args.no_prune,
                         journal=_journal(args), git=git)
    server = None
    if args.listen:
        from controller.service.httpd import StatusServer, parse_listen
        from controller.service.swarmview import SwarmView

        host, port = parse_listen(args.listen)
        server = StatusServer(service, host, port, webhook_secret=secret,
                              view=SwarmView(service))
        server.start()
    service.start()
    while not stop.wait(0.5):
        pass
    service.stop(args.stop_timeout)
    if service.journal is not None:
        service.journal.close()
    if server is not None:
        server.stop()
    return 0


EXIT_REFUSED = 2  # a start refused for safety (an exposed --listen without a secret)


def _check_listen(args: argparse.Namespace) -> str | None:
    """Why ``--listen`` must not start as given (None: it may); warns for
    ``--insecure-listen``. A non-loopback address needs a webhook secret."""
    if not args.listen:
        if args.webhook_secret_file is not None or args.insecure_listen:
            import structlog

            structlog.get_logger("dockwright.watch").warning(
                "listen_options_unused", hint="--webhook-secret-file and --insecure-listen "
                                              "only matter with --listen")
        return None
    from controller.service.httpd import parse_listen
    from controller.service.httpguard import is_loopback

    try:
        host, _port = parse_listen(args.listen)
    except ValueError as exc:
        return str(exc)
    if is_loopback(host) or args.webhook_secret_file is not None:
        return None
    if args.insecure_listen:
        import structlog

        structlog.get_logger("dockwright.watch").warning(
            "insecure_listen", address=args.listen,
            hint="anyone who reaches this address can trigger fetches and read the status: "
                 "add --webhook-secret-file FILE")
        return None
    return (f"--listen {args.listen} is reachable from other hosts, and POST /hooks/git "
            "would accept unsigned calls — add --webhook-secret-file FILE (the secret set in "
            "the git host's webhook), listen on 127.0.0.1, or pass --insecure-listen to "
            "accept the risk")


def run_watch(args: argparse.Namespace) -> int:
    gc.enable()  # the CLI turns it off for one-shot commands; a service runs for months
    import structlog

    from controller.desired.naming import project_name, sanitise_project
    from controller.errors import ControllerError, LockHeld
    from controller.logging import setup
    from controller.service.gitsource import GitSource, repo_name
    from controller.service.lock import describe_holder, project_lock
    from controller.service.loop import WatchConfig, WatchService
    from runtime.registry import open_driver
    from specs.loader import load_dir

    setup(args.log_format, verbose=args.verbose)
    log = structlog.get_logger("dockwright.watch")
    refused = _check_listen(args)
    if refused:
        print(f"dockwright: error: {refused}", file=sys.stderr)
        return EXIT_REFUSED
    secret = None
    if args.webhook_secret_file is not None:
        from controller.service.webhook import load_secret

        secret = load_secret(args.webhook_secret_file)
    stop = threading.Event()
    service: WatchService | None = None

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal", signal=signal.Signals(signum).name)
        stop.set()

    def on_hup(_signum: int, _frame: Any) -> None:
        if service is not None:
            service.enqueue("sighup")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_hup)

    git: GitSource | None = None
    if args.git:
        git = GitSource(args.git, branch=args.branch, path=args.path, interval=args.interval,
                        cache_dir=args.cache_dir)
        delay = 1.0
        while not git.fetch_once() and not args.project:
            if stop.wait(delay):  # the project name comes from the specs: wait for them
                return 0
            delay = min(delay * 2, max(args.interval, 1.0))
        root = git.spec_root
    elif args.dir is None:
        raise ControllerError("watch needs a spec directory or --git URL",
                              hint="run `dockwright watch DIR` or `dockwright watch --git URL`")
    else:
        # kept as given (absolute, links not resolved): a symlink swapped by git-sync or a
        # config mount is followed anew on every pass (controller.service.triggers)
        root = args.dir.absolute()
        if not root.is_dir():
            raise ControllerError(f"spec directory {str(root)!r} does not exist",
                                  hint="create it or pass the right path")

    if git is not None and not args.project:
        specs = load_dir(root) if root.is_dir() else None
        fallback = Path(args.path).name if args.path else repo_name(args.git)
        named = specs is not None and specs.project is not None and specs.project.name
        project = project_name(root, specs, None) if named else sanitise_project(fallback)
    else:
        project = project_name(root, load_dir(root) if root.is_dir() else None, args.project)

    runtime_opts: dict[str, Any] = {}
    if args.runtime == "native" and args.state_dir:
        runtime_opts["state_dir"] = args.state_dir

    def driver_factory() -> Any:
        return open_driver(args.runtime, **runtime_opts)

    def on_wait(holder: dict[str, Any]) -> None:
        log.info("waiting_for_lock", project=project, holder=describe_holder(holder))

    with contextlib.ExitStack() as stack:
        try:
            held = stack.enter_context(project_lock(
                project, wait=args.wait_lock, purpose="watch", on_wait=on_wait, cancel=stop))
        except LockHeld:
            if stop.is_set():  # SIGTERM while waiting for the lock: a clean stop
                return 0
            raise
        log.info("lock_acquired", project=project, path=held["path"])
        if args.runtime == "swarm":
            return _watch_swarm(args, root, project, stop, git, secret)
        config = WatchConfig(root=None if git else root, project=project, resync=args.resync,
                             stop_timeout=args.stop_timeout, prune=not args.no_prune)
        service = WatchService(config, driver_factory, git=git, journal=_journal(args))
        server = None
        if args.listen:
            from controller.service.httpd import StatusServer, parse_listen

            host, port = parse_listen(args.listen)
            server = StatusServer(service, host, port, webhook_secret=secret)
            server.start()
        service.start()
        while not stop.wait(0.5):
            pass
        clean = service.stop()
        if clean and service.journal is not None:
            service.journal.close()
        if server is not None:
            server.stop()
    if not clean:  # a pass was abandoned: do not wait for its threads; the next start converges
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0
