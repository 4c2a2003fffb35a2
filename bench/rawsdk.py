"""The lower bound: raw docker SDK calls, no planning (benchmark helper).

Role: run as its own process by ``bench/bench_docker.py`` so that its time
includes the interpreter and the SDK import, like the tools it is compared
with. Modes:
- ``cold PROJECT N``: create the project network, then create + start N
  containers from a pool of 16 threads.
- ``diff PROJECT N``: one list call for the project's containers, compare each
  with the desired config hash (``bench.hash`` label); prints the number of
  differences and exits 0 when there are none, 2 otherwise.
- ``recreate PROJECT N INDEX VERSION``: one list call, then force-remove,
  create and start container INDEX with env ``IDX=INDEX-vVERSION``.
Containers are the same as the other tools run: busybox, a command that exits
on SIGTERM at once, env ``IDX``. Neighbours: ``bench/apicount.py``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

IMAGE = "dockwright-test/busybox:latest"
COMMAND = ["sh", "-c", "trap \"exit 0\" TERM; sleep 3600 & wait"]
WORKERS = 16


def desired(project: str, i: int, version: int = 0) -> dict[str, Any]:
    env = {"IDX": f"{i}-v{version}" if version else str(i)}
    return {"name": f"{project}-c{i}", "image": IMAGE, "command": COMMAND, "env": env}


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def create_and_start(api: Any, project: str, config: dict[str, Any]) -> None:
    labels = {"bench.project": project, "bench.hash": config_hash(config)}
    host = api.create_host_config(network_mode=f"{project}_default")
    created = api.create_container(
        config["image"], command=config["command"], name=config["name"],
        environment=config["env"], labels=labels, host_config=host, stop_timeout=1)
    api.start(created["Id"])


def cold(api: Any, project: str, n: int) -> int:
    api.create_network(f"{project}_default", driver="bridge", labels={"bench.project": project})
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(lambda i: create_and_start(api, project, desired(project, i)), range(n)))
    return 0


def observe(api: Any, project: str) -> dict[str, dict[str, Any]]:
    rows = api.containers(all=True, filters={"label": f"bench.project={project}"})
    return {row["Names"][0].lstrip("/"): row for row in rows}


def diff(api: Any, project: str, n: int) -> int:
    live = observe(api, project)
    changes = 0
    for i in range(n):
        config = desired(project, i)
        row = live.get(config["name"])
        if row is None or row["State"] != "running" or \
                row["Labels"].get("bench.hash") != config_hash(config):
            changes += 1
    changes += sum(1 for name in live if not name.startswith(f"{project}-c"))
    print(f"{changes} changes")
    return 2 if changes else 0


def recreate(api: Any, project: str, n: int, index: int, version: int) -> int:
    live = observe(api, project)
    config = desired(project, index, version)
    row = live[config["name"]]
    if row["Labels"].get("bench.hash") == config_hash(config):
        return 0
    api.remove_container(row["Id"], force=True)
    create_and_start(api, project, config)
    return 0


def main(argv: list[str]) -> int:
    import docker

    mode, project, n = argv[0], argv[1], int(argv[2])
    api = docker.APIClient(version="auto", timeout=120, max_pool_size=WORKERS)
    if mode == "cold":
        return cold(api, project, n)
    if mode == "diff":
        return diff(api, project, n)
    if mode == "recreate":
        return recreate(api, project, n, int(argv[3]), int(argv[4]))
    raise SystemExit(f"unknown mode {mode!r}: use cold, diff or recreate")


if __name__ == "__main__":
    if "--count" in sys.argv:
        sys.argv.remove("--count")
        import apicount  # sibling module: bench/ is sys.path[0] when run as a script

        apicount.install()
    sys.exit(main(sys.argv[1:]))
