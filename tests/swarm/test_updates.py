"""Rolling updates on a three-node Swarm through the CLI: no failed request, and honest rollbacks.

Role: a start-first update of a ``dnsrr`` service with host-mode ports, while a client
service loops requests to it by name over the project's overlay network, loses no
request (Swarm takes a task out of DNS before stopping it, and puts a new one in only
once healthy); the update moves tasks across nodes (``max_per_node = 1`` and the
host port forbid two on one node). A failing update that Swarm rolls back is a failure:
``apply`` exits 1 saying ``rolled back:``, the next pass does not send it again (no
version change) and ``status`` shows it, until the spec changes. Checked with the
Docker SDK on the manager. Neighbours: ``tests/swarm/workloads.py`` (the services),
``tests/swarm/conftest.py``.
"""

from __future__ import annotations

from typing import Any

from tests.swarm.conftest import SwarmProject, wait_until
from tests.swarm.workloads import client, host_port, network, service_log, web

START_FIRST = 'update = { order = "start-first", parallelism = 1, monitor = "1s" }\n'


def _env(service: Any, spec: str = "Spec") -> list[str]:
    service.reload()
    return list(service.attrs[spec]["TaskTemplate"]["ContainerSpec"].get("Env") or [])


def _answers(lines: list[str]) -> list[str]:
    """The client's results from its first success on (before that, web was starting)."""
    ok = [i for i, line in enumerate(lines) if line.startswith("OK")]
    return lines[ok[0]:] if ok else []


def test_start_first_update_loses_no_request(swarm_project: SwarmProject) -> None:
    p = swarm_project
    net, name = p.n("net"), p.n("web")
    port = host_port()

    def specs(version: str) -> str:
        extra = START_FIRST + "placement = { max_per_node = 1 }\n"
        return (network(net) + web(name, version=version, port=port, networks=(net,),
                                   extra=extra)
                + client(p.n("client"), name, networks=(net,)))

    p.write_specs(specs("1"))
    p.apply_ok()
    probe = p.service(p.n("client"))
    wait_until(lambda: _answers(service_log(probe)).count("OK v1") >= 10, "the client served")

    nodes_before = set(p.node_names(p.tasks(name)))
    p.write_specs(specs("2"))
    p.apply_ok()  # returns once converged
    wait_until(lambda: _answers(service_log(probe))[-5:] == ["OK v2"] * 5,
               "the client served by v2 only")
    answers = _answers(service_log(probe))
    assert [a for a in answers if not a.startswith("OK v")] == []  # zero failed requests
    assert answers.count("OK v1") >= 10 and answers.count("OK v2") >= 5

    service = p.service(name)
    assert "VERSION=2" in _env(service)
    assert "VERSION=1" in _env(service, "PreviousSpec")  # Swarm's rollback target: v1
    assert (service.attrs.get("UpdateStatus") or {}).get("State") == "completed"
    running = p.tasks(name)
    assert len(running) == 2 and len(set(p.node_names(running))) == 2
    # the first new task could only start on the node that had none (its port was free)
    assert set(p.node_names(running)) != nodes_before
    for node in p.cluster.nodes:  # every node runs v2 or nothing on the host port
        assert p.cluster.http_get(f"http://{node.ip}:{port}/") in ("v2\n", "")


def test_a_failed_update_rolled_back_is_reported_and_not_retried(
        swarm_project: SwarmProject) -> None:
    p = swarm_project
    name = p.n("web")
    policy = ('update = { order = "start-first", parallelism = 1, monitor = "3s", '
              'failure_action = "rollback" }\n')
    p.write_specs(web(name, version="1", extra=policy))
    p.apply_ok()
    p.wait_running(name, 2)

    broken = web(name, version="2", extra=policy).replace(
        'command = ["sh", "-c", ', 'command = ["sh", "-c", "exit 3", "--", ', 1)
    p.write_specs(broken)
    failed = p.cli("apply")
    assert failed.code == 1, str(failed)
    assert "rolled back:" in failed.text, str(failed)
    service = p.service(name)
    assert "VERSION=1" in _env(service)  # Swarm put v1 back
    state = (service.attrs.get("UpdateStatus") or {}).get("State")
    assert state == "rollback_completed", state
    p.wait_running(name, 2)

    version = p.versions()[name]
    again = p.cli("apply")  # the same failed spec: not sent again (no update loop)
    assert p.versions()[name] == version, str(again)
    assert "rolled back" in again.text, str(again)
    status = p.cli("status")
    assert "rolled back" in status.text, str(status)

    p.write_specs(web(name, version="3", extra=policy))  # a new spec is applied again
    p.apply_ok()
    assert "VERSION=3" in _env(p.service(name))
    p.wait_running(name, 2)
