"""Benchmark: nothing -> a container answering HTTP on a published port, native vs Docker.

Role: measures, in the same run and on the same busybox image, (1) the time
from nothing to the first HTTP answer on a published 127.0.0.1 port, for the
native driver (create + start + poll) and for ``docker run -d -p`` (+ poll),
median of N (default 10); (2) 20 containers started in parallel until all
answer; (3) teardown per container. Prints a table and writes JSON to
``bench/results/native.json``. Run as root from the project root:
``.venv/bin/python bench/bench_native.py [--runs 10] [--parallel 20]``.
Neighbours: ``runtime.native.driver``, ``tests/images.py`` (the image).
Cleans up exactly what it created (its own containers, network, state dir).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime.native.driver import NativeDriver
from runtime.types import ContainerConfig, NetworkAttach, NetworkConfig, PortBinding
from tests.images import BUSYBOX, busybox_image, save_image

SCRIPT = "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www"
RESULTS = Path(__file__).resolve().parent / "results" / "native.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                resp.read()
            return
        except urllib.error.HTTPError:
            return  # an HTTP answer, even an error, is an answer
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no HTTP answer on port {port}") from None
            time.sleep(0.002)


class Native:
    def __init__(self, state: Path, archive: Path, tag: str) -> None:
        self.driver = NativeDriver(state_dir=state)
        self.driver.load_image(archive)
        self.net = f"{tag}-net"
        self.driver.create_network(NetworkConfig(name=self.net))
        self.tag = tag

    def up(self, i: int, port: int) -> str:
        cid = self.driver.create_container(
            ContainerConfig(
                name=f"{self.tag}-n{i}", image=BUSYBOX, command=("sh", "-c", SCRIPT),
                networks=(NetworkAttach(self.net),),
                ports=(PortBinding(80, host_ip="127.0.0.1", host_port=port),),
                stop_timeout=0.5,
            )
        )  # fmt: skip
        self.driver.start_container(cid)
        wait_http(port)
        return cid

    def down(self, cid: str) -> None:
        self.driver.remove_container(cid, force=True)

    def close(self) -> None:
        for c in self.driver.list_containers():
            self.driver.remove_container(c.id, force=True)
        self.driver.remove_network(self.net)


class Docker:
    """``docker run -d -p`` on a user network (like the native side; docker0 may be absent)."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        subprocess.run(
            ["docker", "network", "create", "--label", f"dwbench={tag}", f"{tag}-net"],
            check=True, capture_output=True,
        )  # fmt: skip

    def up(self, i: int, port: int) -> str:
        name = f"{self.tag}-d{i}"
        subprocess.run(
            ["docker", "run", "-d", "--name", name, "--network", f"{self.tag}-net",
             "-p", f"127.0.0.1:{port}:80",
             "--label", f"dwbench={self.tag}", BUSYBOX, "sh", "-c", SCRIPT],
            check=True, capture_output=True,
        )  # fmt: skip
        wait_http(port)
        return name

    def down(self, name: str) -> None:
        subprocess.run(["docker", "rm", "-f", name], check=True, capture_output=True)

    def close(self) -> None:
        out = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label=dwbench={self.tag}"],
            capture_output=True, text=True, check=False,
        ).stdout.split()  # fmt: skip
        if out:
            subprocess.run(["docker", "rm", "-f", *out], capture_output=True, check=False)
        subprocess.run(
            ["docker", "network", "rm", f"{self.tag}-net"], capture_output=True, check=False
        )


def sequential(rt: Native | Docker, runs: int, offset: int) -> dict[str, float]:
    ups: list[float] = []
    downs: list[float] = []
    for i in range(runs):
        port = free_port()
        t = time.perf_counter()
        ref = rt.up(offset + i, port)
        ups.append(time.perf_counter() - t)
        t = time.perf_counter()
        rt.down(ref)
        downs.append(time.perf_counter() - t)
    return {"median_up_s": statistics.median(ups), "min_up_s": min(ups),
            "max_up_s": max(ups), "median_down_s": statistics.median(downs)}  # fmt: skip


def parallel(rt: Native | Docker, n: int, offset: int) -> dict[str, float]:
    ports = [free_port() for _ in range(n)]
    with ThreadPoolExecutor(max_workers=n) as pool:
        t = time.perf_counter()
        ids = list(pool.map(lambda i: rt.up(offset + i, ports[i]), range(n)))
        up = time.perf_counter() - t
        t = time.perf_counter()
        list(pool.map(rt.down, ids))
        down = time.perf_counter() - t
    return {"all_up_s": up, "all_down_s": down}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=20)
    opts = parser.parse_args()
    tag = f"dwbench-{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="dwbench-"))
    busybox_image()
    archive = save_image(BUSYBOX, tmp / "busybox.tar")
    native = Native(tmp / "state", archive, tag)
    docker = Docker(tag)
    try:
        native.up(999, free_port())  # warm caches (page cache, imports) equally for both
        docker.up(999, free_port())
        result = {
            "runs": opts.runs,
            "parallel": opts.parallel,
            "oci_runtime": native.driver.oci.name,
            "cgroup_mode": native.driver.oci.mode,
            "native": sequential(native, opts.runs, 0),
            "docker": sequential(docker, opts.runs, 0),
            "native_parallel": parallel(native, opts.parallel, 100),
            "docker_parallel": parallel(docker, opts.parallel, 100),
        }
    finally:
        native.close()
        docker.close()
        shutil.rmtree(tmp, ignore_errors=True)
    n, d = result["native"], result["docker"]
    np_, dp = result["native_parallel"], result["docker_parallel"]
    assert isinstance(n, dict) and isinstance(d, dict)
    assert isinstance(np_, dict) and isinstance(dp, dict)
    result["speedup_up"] = d["median_up_s"] / n["median_up_s"]
    result["speedup_parallel"] = dp["all_up_s"] / np_["all_up_s"]
    print(f"{'measure':<44}{'native':>10}{'docker':>10}{'ratio':>8}")
    rows = [
        ("nothing -> HTTP answer, median (s)", n["median_up_s"], d["median_up_s"]),
        ("nothing -> HTTP answer, min (s)", n["min_up_s"], d["min_up_s"]),
        ("teardown, median (s)", n["median_down_s"], d["median_down_s"]),
        (f"{opts.parallel} in parallel, all answering (s)", np_["all_up_s"], dp["all_up_s"]),
        (f"{opts.parallel} in parallel, all removed (s)", np_["all_down_s"], dp["all_down_s"]),
    ]
    for label, a, b in rows:
        print(f"{label:<44}{a:>10.3f}{b:>10.3f}{b / a:>7.1f}x")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
