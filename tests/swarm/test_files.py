"""Secrets and configs on a three-node Swarm: content-named objects, rotation, nothing shown.

Role: a service with a secret and a config gets Swarm objects named
``<project>_<name>_<digest12>``; the task (on a worker) reads both files; the secret's
value appears nowhere a user or a log sees: not in ``docker service inspect``, not in
the Swarm objects' labels, not in ``diff``/``apply``/``status`` output. Changing a
file's content rotates it: a new object, the task restarted with the new content, the
old revision removed once no task uses it. ``logs`` reads every task's output
prefixed by task and node; ``exec`` runs in a task on the manager's node and names the
nodes otherwise. Checked through the manager and the worker's own daemon.
Neighbours: ``tests/swarm/conftest.py``, ``tests/swarm/workloads.py``.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from tests.swarm.conftest import SwarmProject, wait_until
from tests.swarm.workloads import sleeper

SECRET_1 = "hunter2-first-9c1f"
SECRET_2 = "hunter2-second-77ab"
ON_NODE2 = 'placement = { constraints = ["node.labels.dw.node == node2"] }\n'
FILES = ('secrets = { dbpw = { file = "dbpw.txt" } }\n'
         'configs = { "/etc/app.conf" = { file = "app.conf" } }\n')


def _objects(p: SwarmProject, kind: str) -> list[Any]:
    found = p.client.secrets.list() if kind == "secret" else p.client.configs.list()
    return [o for o in found if o.name.startswith(f"{p.name}_")]


def _read_in_task(p: SwarmProject, service: str, *paths: str) -> str:
    """``cat PATHS`` in the service's running task, on node2's own daemon."""
    with contextlib.closing(p.cluster.client("node2")) as node2:
        label = f"com.docker.swarm.service.name={service}"
        found = node2.containers.list(ignore_removed=True, filters={"label": label})
        assert len(found) == 1, [c.name for c in found]
        code, out = found[0].exec_run(["cat", *paths])
        assert code == 0, out
        return bytes(out).decode()


def test_secrets_and_configs_rotate_and_the_secret_is_never_shown(
        swarm_project: SwarmProject) -> None:
    p = swarm_project
    name = p.n("app")
    p.write("dbpw.txt", SECRET_1)
    p.write("app.conf", "level = 1\n")
    p.write_specs(sleeper(name, extra=ON_NODE2 + FILES))
    first = p.cli("apply")
    assert first.code == 0, str(first)
    p.wait_running(name, 1)
    secrets, configs = _objects(p, "secret"), _objects(p, "config")
    assert len(secrets) == 1 and len(configs) == 1
    assert secrets[0].name.startswith(f"{p.name}_dbpw_") and len(secrets[0].name) == len(
        f"{p.name}_dbpw_") + 12
    assert _read_in_task(p, name, "/run/secrets/dbpw", "/etc/app.conf") == SECRET_1 + "level = 1\n"
    old_secret, old_config = secrets[0].id, configs[0].id

    p.write("dbpw.txt", SECRET_2)
    p.write("app.conf", "level = 2\n")
    diff = p.cli("diff")
    assert diff.code == 2 and name in diff.text, str(diff)
    second = p.apply_ok()
    wait_until(lambda: _read_in_task(p, name, "/run/secrets/dbpw", "/etc/app.conf")
               == SECRET_2 + "level = 2\n", "the task restarted with the new files", 90)
    wait_until(lambda: old_secret not in [s.id for s in _objects(p, "secret")]
               and old_config not in [c.id for c in _objects(p, "config")],
               "the old revisions removed", 60)
    assert len(_objects(p, "secret")) == 1 and len(_objects(p, "config")) == 1

    status = p.cli("status")
    inspect = json.dumps([p.service(name).attrs, [s.attrs for s in _objects(p, "secret")]])
    for text in (first.text, diff.text, second.text, status.text, inspect):
        assert SECRET_1 not in text and SECRET_2 not in text


def test_logs_prefix_task_and_node_and_exec_runs_on_the_local_node(
        swarm_project: SwarmProject) -> None:
    p = swarm_project
    here, there = p.n("here"), p.n("there")
    speak = "echo hello-from-$(hostname); trap 'exit 0' TERM; while :; do sleep 1; done"
    on = 'placement = {{ constraints = ["node.labels.dw.node == {}"] }}\n'
    p.write_specs(
        f'[container.{here}]\nimage = "dockwright-test/busybox:latest"\n'
        f'command = ["sh", "-c", "{speak}"]\nreplicas = 1\nstop_timeout = "1s"\n'
        + on.format("node1") + "\n"
        + sleeper(there, replicas=2, extra=on.format("node3")))
    p.apply_ok()
    p.wait_running(here, 1)
    p.wait_running(there, 2)
    logs = wait_until(lambda: (r if "hello-from-" in (r := p.cli("logs", here, with_dir=False))
                               .out else None), "the task's output in logs", 30)
    assert logs.code == 0, str(logs)
    line = next(x for x in logs.out.splitlines() if "hello-from-" in x)
    assert f"{here}.1" in line and "node1" in line, line  # prefixed by task and node

    run = p.cli("exec", here, "--", "cat", "/etc/hostname", with_dir=False)
    assert run.code == 0, str(run)
    assert run.out.strip() and "hello" not in run.out
    elsewhere = p.cli("exec", there, "--", "true", with_dir=False)
    assert elsewhere.code != 0 and "node3" in elsewhere.text, str(elsewhere)
