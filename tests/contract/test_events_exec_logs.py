"""Contract: the event stream, exec and logs.

What every driver must do: ``events(labels)`` delivers lifecycle events of the
matching containers from the moment it is called (``start``, then ``die``
with the exit code after a kill), and with ``ids`` also those of the listed
containers whatever their labels (the set asked anew at each event), and
``close()`` from another thread ends an iteration that is waiting; ``exec_in``
runs a command in a running container and returns its exit code and output;
``logs`` returns what the process wrote, with ``tail`` and ``follow``.
Neighbours: ``tests/contract/conftest.py``, ``runtime.driver.EventStream``.
"""

from __future__ import annotations

import threading

import pytest

from runtime.driver import Driver
from runtime.errors import Conflict
from runtime.types import Event, State
from tests.conftest import wait_for
from tests.contract.conftest import Project

pytestmark = pytest.mark.docker

JOIN_TIMEOUT = 15.0


def collect(
    driver: Driver, labels: dict[str, str], until: str
) -> tuple[list[Event], threading.Thread]:
    """Iterate ``driver.events(labels)`` in a thread until an event with action ``until``."""
    stream = driver.events(labels)
    seen: list[Event] = []

    def run() -> None:
        for event in stream:
            seen.append(event)
            if event.action == until:
                break
        stream.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return seen, thread


def test_die_event_after_kill(driver: Driver, project: Project) -> None:
    other = project.n("other")  # a container of the project without the selecting label
    driver.create_container(project.config("other"))
    seen, thread = collect(driver, {**project.selector, "watch": "yes"}, until="die")
    cid = project.run("watched", command=("sleep", "3600"),
                      labels=(*project.labels, ("watch", "yes")))  # fmt: skip
    driver.start_container(other)
    driver.stop_container(cid, timeout=0)
    thread.join(JOIN_TIMEOUT)
    assert not thread.is_alive(), f"no die event; saw {seen}"
    actions = [e.action for e in seen if e.container_id == cid]
    assert "start" in actions and actions[-1] == "die"
    die = seen[-1]
    assert die.name == project.n("watched")
    assert die.detail == "137"
    assert ("watch", "yes") in die.labels
    assert all(e.name != other for e in seen)


def test_events_of_listed_ids_whatever_their_labels(driver: Driver, project: Project) -> None:
    """A container without the selecting label is followed once its id is listed."""
    listed: set[str] = set()
    stream = driver.events({**project.selector, "watch": "yes"}, ids=lambda: frozenset(listed))
    seen: list[Event] = []

    def run() -> None:
        for event in stream:
            seen.append(event)
            if event.action == "die":
                break
        stream.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ignored = project.run("ignored", command=("sleep", "3600"))
    driver.stop_container(ignored, timeout=0)  # not listed yet: no event
    cid = project.run("adopted", command=("sleep", "3600"))
    listed.add(cid)
    driver.stop_container(cid, timeout=0)
    thread.join(JOIN_TIMEOUT)
    assert not thread.is_alive(), f"no die event of the listed container; saw {seen}"
    assert [e.action for e in seen][-1] == "die" and seen[-1].container_id == cid
    assert all(e.container_id != ignored for e in seen)


def test_close_from_another_thread_stops_iteration(driver: Driver, project: Project) -> None:
    stream = driver.events(project.selector)
    result: list[Event] = []
    done = threading.Event()

    def iterate() -> None:
        result.extend(stream)  # blocks: no event matches yet
        done.set()

    reader = threading.Thread(target=iterate, daemon=True)
    reader.start()
    wait_for(lambda: reader.is_alive(), "the reader to start")
    stream.close()
    reader.join(JOIN_TIMEOUT)
    assert done.is_set() and not reader.is_alive()
    assert result == []
    stream.close()  # closing twice is harmless


def test_exec(driver: Driver, project: Project) -> None:
    cid = project.run("exec", env=(("WHO", "contract"),))
    result = driver.exec_in(cid, ["sh", "-c", 'echo "out $WHO"; echo err >&2; exit 4'])
    assert result.exit_code == 4
    assert b"out contract" in result.output and b"err" in result.output
    assert driver.exec_in(cid, ["true"]).exit_code == 0
    tty = driver.exec_in(cid, ["sh", "-c", "[ -t 1 ] && echo tty"], tty=True)
    assert (tty.exit_code, tty.output.strip()) == (0, b"tty")
    driver.stop_container(cid, timeout=1)
    with pytest.raises(Conflict):  # not running
        driver.exec_in(cid, ["true"])


def test_logs(driver: Driver, project: Project) -> None:
    script = "echo oops >&2; sleep 0.5; for i in 1 2 3 4 5; do echo line$i; done"
    cid = project.run("logs", command=("sh", "-c", script))
    wait_for(lambda: driver.inspect_container(cid).summary.state is State.EXITED, "the exit")
    full = b"".join(driver.logs(cid)).decode()
    assert full.count("line") == 5 and "oops" in full
    tail = b"".join(driver.logs(cid, tail=2)).decode()
    assert tail == "line4\nline5\n"
    assert b"".join(driver.logs(cid, follow=True)).decode() == full  # ends with the container


def test_follow_streams_new_output(driver: Driver, project: Project) -> None:
    cid = project.run("follow", command=(
        "sh", "-c", "trap 'exit 0' TERM; i=0; while :; do echo tick$i; i=$((i+1)); sleep 0.2; done",
    ))  # fmt: skip
    chunks = driver.logs(cid, follow=True, tail=0)
    got = b""
    for chunk in chunks:
        got += chunk
        if got.count(b"tick") >= 3:
            break
    assert got.count(b"tick") >= 3
    driver.stop_container(cid, timeout=1)


def test_logs_of_a_tty_container(driver: Driver, project: Project) -> None:
    cid = project.run("ttylogs", tty=True, command=("sh", "-c", "echo one; echo two"))
    wait_for(lambda: driver.inspect_container(cid).summary.state is State.EXITED, "the exit")
    assert b"".join(driver.logs(cid)).replace(b"\r\n", b"\n") == b"one\ntwo\n"
