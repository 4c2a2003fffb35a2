"""Count the Docker API calls a process makes (benchmark helper, no project imports).

Role: ``install()`` wraps ``requests.Session.send``, through which every
docker SDK call goes (``docker.APIClient`` is a ``requests.Session``; this holds
for the venv's docker SDK 7 used by dockwright and the raw workers, and for the
system docker-py 5 used by docker-compose 1.29). Each HTTP request to the
daemon is counted as ``"METHOD /path"`` with the API version prefix, query
string and object ids/names removed; at exit the counts are written as JSON to
the file named by ``$DW_APICOUNT_FILE``. dockwright's own unix-socket client
(``runtime.docker.http``, no requests) is counted through its audit event
``dockwright.docker.request``. The wrapper costs a dict update per call.
Neighbours: ``bench/bench_docker.py`` (starts each tool with this installed),
``bench/rawsdk.py``.

Runs under the venv's Python and under Debian's /usr/bin/python3: stdlib only.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import sys
import threading
from collections import Counter
from typing import Any

_VERSION = re.compile(r"^/v\d+(\.\d+)?")
_IMAGE = re.compile(r"^/images/(?!json$|create$|prune$|load$|search$|get$).+?"
                    r"(?=/(json|history|push|tag|get)$|$)")
_OBJECT = re.compile(r"^/(containers|networks|volumes|images|exec)/(?!json$|create$|prune$)"
                     r"[^/]+")
_counts: Counter[str] = Counter()
_lock = threading.Lock()


def normalise(method: str, path: str) -> str:
    """``POST /v1.41/containers/abc/start?x=1`` -> ``POST /containers/{id}/start``."""
    path = _VERSION.sub("", path.split("?", 1)[0])
    path = _IMAGE.sub("/images/{ref}", path)
    path = _OBJECT.sub(lambda m: f"/{m.group(1)}/{{id}}", path)
    return f"{method} {path}"


def install() -> None:
    """Start counting in this process; write the counts at exit."""
    import requests.sessions

    original = requests.sessions.Session.send

    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        key = normalise(str(request.method), str(request.path_url))
        with _lock:
            _counts[key] += 1
        return original(self, request, **kwargs)

    requests.sessions.Session.send = send  # type: ignore[method-assign]
    _install_http_client()
    target = os.environ.get("DW_APICOUNT_FILE")
    if target:
        atexit.register(_dump, target)


def _install_http_client() -> None:
    """Also count dockwright's own unix-socket client (``runtime.docker.http``), which
    does not use requests: it raises the audit event ``dockwright.docker.request``."""

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "dockwright.docker.request":
            with _lock:
                _counts[normalise(str(args[0]), str(args[1]))] += 1

    sys.addaudithook(hook)


def _dump(target: str) -> None:
    with _lock, open(target, "w") as fh:
        json.dump(dict(_counts), fh, indent=1, sort_keys=True)


def run_module_counted(module: str, argv: list[str]) -> None:
    """``python -c`` entry: count, then run ``module`` as ``__main__`` with ``argv``."""
    import runpy

    install()
    sys.argv = [module, *argv]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
