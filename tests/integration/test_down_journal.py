"""``dockwright down`` is journaled like a pass (the real daemon, a real journal file).

A down records one pass with source ``down`` and trigger ``cli``, and an entry with
cause ``down`` and its outcome for every container and network it removed (a kept
named volume is no entry; with ``--volumes`` its removal is); ``history`` shows them;
``--no-journal`` records nothing. Neighbours: ``controller.commands.converge``
(``run_down``), ``controller.execution.journal``; ``tests/integration/conftest.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.execution.journal.query import Filter, entries, passes
from tests.integration.conftest import Project, loop_container

pytestmark = pytest.mark.docker


def test_down_is_journaled_with_its_actions_and_outcomes(project: Project,
                                                         tmp_path: Path) -> None:
    env = {"DOCKWRIGHT_STATE_DIR": str(tmp_path / "state")}
    journal = tmp_path / "state" / "journal.db"
    vol = project.n("v")
    project.write("app.toml", f"[volume.{vol}]\n\n" + loop_container(
        project.n("a"), volumes=f'["{vol}:/v"]') + loop_container(project.n("b")))
    applied = project.cli_env("apply", env)
    assert applied.code == 0, str(applied)

    down = project.cli_env("down", env)
    assert down.code == 0, str(down)
    last = passes(journal, Filter(project=project.name, limit=1))[0]
    assert (last.source, last.triggers, last.ok) == ("down", ("cli",), True)
    assert last.acted >= 2 and last.changed
    done = entries(journal, Filter(project=project.name, sources=frozenset({"down"})))
    removed = {(e.object, e.resource, e.action, e.cause, e.outcome.value) for e in done}
    assert ("container", project.n("a"), "remove", "down", "ok") in removed
    assert ("container", project.n("b"), "remove", "down", "ok") in removed
    assert all(e.duration is not None and e.pass_id == last.id for e in done)
    assert not [e for e in done if e.object == "volume"]  # kept: no entry

    shown = project.cli_env("history", env, "--output", "json")
    assert shown.code == 0, str(shown)
    lines = json.loads(shown.out)["entries"]
    assert any(e["source"] == "down" and e["resource"] == project.n("a")
               and e["action"] == "remove" for e in lines)

    again = project.cli_env("down", env, "--volumes")
    assert again.code == 0, str(again)
    volumes = [e for e in entries(journal, Filter(project=project.name, limit=1000))
               if e.object == "volume" and e.source == "down"]
    assert [(v.name, v.action, v.cause, v.outcome.value) for v in volumes] == [
        (vol, "remove-volume", "down", "ok")]

    before = len(passes(journal, Filter(project=project.name, limit=1000)))
    quiet = project.cli_env("down", env, "--no-journal")
    assert quiet.code == 0, str(quiet)
    assert len(passes(journal, Filter(project=project.name, limit=1000))) == before
