"""The Docker daemon's answers for a container whose task outlived a daemon restart.

``runtime.docker.errors.map_status`` turns them into ``StaleState`` (the executor
then removes and re-creates the container, ``controller.execution.lifecycle``),
and nothing else into it: a name in use is a plain ``Conflict``. Pure.
"""

from __future__ import annotations

import pytest

from runtime.docker.errors import map_status
from runtime.errors import Conflict, StaleState


@pytest.mark.parametrize("text", [
    "id already in use",
    "task 0ae52e780a54a1: already exists",
    "failed to create task for container: task 0ae52e780a54 already exists: unknown",
])
def test_a_task_left_by_an_earlier_daemon_is_stale_state(text: str) -> None:
    assert isinstance(map_status("start container web", 500, text), StaleState)


def test_a_name_in_use_is_a_plain_conflict() -> None:
    error = map_status("create container web", 409, 'Conflict. The container name "/web" is '
                       "already in use by container \"0ae52e780a54\"")
    assert isinstance(error, Conflict) and not isinstance(error, StaleState)
