"""``history`` and ``why`` on the native runtime (crun, no daemon), through the real CLI.

The journal lives in the native runtime's state folder (``--state-dir``); what
``apply --runtime native`` did shows in ``history``, and ``why`` finds a native
container's declaration, last action and state, also when its file is invalid.
Neighbours: ``tests/watch/test_native.py`` (the ``native_watch`` fixture: a project
on a private state folder, taken down and checked for leaks at the end).
"""

from __future__ import annotations

import json

import pytest

from tests.watch.test_native import NativeWatch, native_watch, watch_archive

pytestmark = pytest.mark.native
__all__ = ["native_watch", "watch_archive"]  # the fixtures this module uses


def test_history_and_why_on_the_native_runtime(native_watch: NativeWatch) -> None:
    nw = native_watch
    (nw.specs / "project.toml").write_text(  # the image archive lives outside the folder
        f'[project]\nname = "{nw.project}"\nallow_host_paths = ["{nw.archive.parent}"]\n')
    nw.write("web", {"A": "1"})
    nw.cli("apply", str(nw.specs))
    nw.write("web", {"A": "2"})
    nw.cli("apply", str(nw.specs))
    web = nw.name("web")
    nw.record("web")

    entries = json.loads(nw.cli("history", "--output", "json").stdout)["entries"]
    containers = [(e["action"], e["cause"], e["runtime"]) for e in entries
                  if e["resource"] == web and e["object"] == "container"]
    assert containers == [("recreate", "spec", "native"), ("create", "new", "native")]
    assert entries[0]["changes"] == [{"field": "env.A", "old": "1", "new": "2",
                                      "in_place": False}]
    assert (nw.state / "journal.db").exists(), "the journal is in --state-dir"

    why = json.loads(nw.cli("why", web, "--output", "json").stdout)
    assert why["runtime"] == "native" and why["ownership"] == "owned"
    assert why["declaration"]["file"] == "web.toml" and why["declaration"]["line"] == 1
    assert why["last_action"]["action"] == "recreate"
    assert why["state"]["kind"] == "in-sync" and why["container"]["state"] == "running"

    spec = nw.specs / "web.toml"
    spec.write_text(spec.read_text() + "bogus = 1\n")
    assert nw.cli("apply", str(nw.specs), check=False).returncode == 1
    frozen = json.loads(nw.cli("why", str(nw.specs), web, "--output", "json").stdout)
    assert frozen["state"]["kind"] == "frozen" and frozen["declaration"]["frozen"]
    assert frozen["container"]["state"] == "running", "left as it runs"
    text = nw.cli("why", str(nw.specs), web).stdout
    assert "web.toml:1" in text and "frozen" in text
    nw.write("web", {"A": "2"})  # valid again, so that the fixture's down sees it
