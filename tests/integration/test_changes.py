"""Issue 3, behaviour 3: one changed field changes only what it must.

In-place updates (restart policy, resources, the aliases a new link adds to
its target) keep the container id; other changes recreate it, and the
``diff`` shows the field with its reason; secret
values never appear in any output; containers that follow a recreated one
(``volumes_from``) are recreated with a "follows" reason; a changed file that
the spec refers to (``env_file``, a secret file) is a change.
"""

from __future__ import annotations

import json

import pytest

from .conftest import Project, env_of, loop_container

pytestmark = pytest.mark.docker


def _lines_with(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


def test_restart_and_resources_update_in_place(project: Project) -> None:
    p = project
    p.write("a.toml", loop_container(p.n("a"), restart='"no"',
                                     resources='{ memory = "64m", cpus = 0.5 }'))
    p.apply_ok()
    before = p.container("a").id
    p.write("a.toml", loop_container(p.n("a"), restart='"always"',
                                     resources='{ memory = "256m", cpus = 1.0, pids = 50 }'))
    diff = p.diff()
    assert diff.code == 2, str(diff)
    assert "restart" in diff.out and ("memory" in diff.out or "resources" in diff.out), str(diff)
    p.apply_ok()
    c = p.container("a")
    assert c.id == before, "restart policy and resources must be updated in place"
    assert c.status == "running"
    host = c.attrs["HostConfig"]
    assert host["RestartPolicy"]["Name"] == "always"
    assert host["Memory"] == 256 * 1024 * 1024
    assert host["NanoCpus"] == 1_000_000_000
    assert host["PidsLimit"] == 50
    after = p.diff()
    assert after.code == 0, f"no churn after an in-place update\n{after}"


def test_env_change_recreates_with_reason(project: Project) -> None:
    p = project
    p.write("a.toml", loop_container(p.n("a"), env='{ FOO = "one", KEEP = "same" }')
            + loop_container(p.n("other")))
    p.apply_ok()
    ids = p.ids()
    p.write("a.toml", loop_container(p.n("a"), env='{ FOO = "two", KEEP = "same" }')
            + loop_container(p.n("other")))
    diff = p.diff()
    assert diff.code == 2, str(diff)
    assert "env.FOO" in diff.out, f"diff must name the changed field\n{diff}"
    assert "env.KEEP" not in diff.out, f"unchanged fields are not reported\n{diff}"
    assert not _lines_with(diff.out, p.n("other")) or "recreate" not in " ".join(
        _lines_with(diff.out, p.n("other"))), f"{p.n('other')} must not change\n{diff}"
    plan = p.diff("--output", "json")
    assert plan.code == 2 and "env.FOO" in plan.out, str(plan)
    json.loads(plan.out)
    p.apply_ok()
    assert p.container("a").id != ids[p.n("a")], "an env change recreates the container"
    assert env_of(p.container("a"))["FOO"] == "two"
    assert p.container("other").id == ids[p.n("other")], "an unchanged container is kept"
    assert p.diff().code == 0


def test_secret_values_are_masked(project: Project) -> None:
    p = project
    old, new, host = "old-s3cret-6d1f", "new-s3cret-9a7c", "host-s3cret-1e2b"
    env = {"DWT_TEST_SECRET": host}
    p.write("secret.txt", old)
    spec = loop_container(p.n("a"), env='{ PASS = { file = "secret.txt" }, '
                                        'TOKEN = { env = "DWT_TEST_SECRET" }, PLAIN = "x" }')
    p.write("a.toml", spec)
    runs = [p.cli_env("diff", env), p.cli_env("apply", env)]
    assert runs[1].code == 0, str(runs[1])
    c = p.container("a")
    assert env_of(c)["PASS"] == old and env_of(c)["TOKEN"] == host
    p.write("secret.txt", new)
    diff = p.cli_env("diff", env)
    assert diff.code == 2, f"a changed secret file is a change\n{diff}"
    assert "env.PASS" in diff.out, str(diff)
    runs += [diff, p.cli_env("diff", env, "--output", "json"), p.cli_env("apply", env),
             p.cli_env("status", env, "--output", "json"), p.cli_env("status", env)]
    for run in runs:
        for secret in (old, new, host):
            assert secret not in run.text, f"secret value printed by {run.args}\n{run}"
    assert env_of(p.container("a"))["PASS"] == new


def test_env_file_change_is_a_change(project: Project) -> None:
    p = project
    p.write("conf/app.env", "MODE=blue\n")
    p.write("a.toml", loop_container(p.n("a"), env_file='["conf/app.env"]'))
    p.apply_ok()
    before = p.container("a").id
    assert env_of(p.container("a"))["MODE"] == "blue"
    assert p.diff().code == 0
    p.write("conf/app.env", "MODE=green\n")
    diff = p.diff()
    assert diff.code == 2, f"a changed env_file is a change\n{diff}"
    assert "env.MODE" in diff.out or "env_file" in diff.out, str(diff)
    p.apply_ok()
    assert p.container("a").id != before
    assert env_of(p.container("a"))["MODE"] == "green"


def test_dependents_follow_a_recreated_container(project: Project) -> None:
    p = project
    store, app, other = p.n("store"), p.n("app"), p.n("other")

    def spec(version: str) -> str:
        return (f"[volume.{p.n('vol')}]\n\n"
                + loop_container(store, env=f'{{ V = "{version}" }}',
                                 volumes=f'["{p.n("vol")}:/shared"]')
                + loop_container(app, volumes_from=f'["{store}"]')
                + loop_container(other))

    p.write("a.toml", spec("1"))
    p.apply_ok()
    ids = p.ids()
    p.write("a.toml", spec("2"))
    diff = p.diff()
    assert diff.code == 2, str(diff)
    assert "env.V" in diff.out, str(diff)
    app_lines = " ".join(_lines_with(diff.out, app)).lower()
    assert "follow" in app_lines, f"{app} must be recreated because it follows {store}\n{diff}"
    p.apply_ok()
    now = p.ids()
    assert now[store] != ids[store] and now[app] != ids[app]
    assert now[other] == ids[other]
    mounts = {m["Destination"]: m for m in p.container("app").attrs["Mounts"]}
    assert mounts["/shared"]["Name"] == p.n("vol")
    assert p.diff().code == 0


def test_a_new_link_updates_the_target_in_place(project: Project) -> None:
    p = project
    httpd = ('["sh", "-c", "mkdir -p /www && echo linked-page > /www/index.html '
             '&& exec httpd -f -p 80 -h /www"]')
    p.write("db.toml", loop_container(p.n("db"), command=httpd))
    p.write("c1.toml", loop_container(p.n("c1"), links=f'["{p.n("db")}:database"]'))
    p.apply_ok()
    before = p.container("db").id
    p.write("c2.toml", loop_container(p.n("c2"), links=f'["{p.n("db")}:store"]'))
    diff = p.diff()
    assert diff.code == 2, str(diff)
    db_lines = " ".join(_lines_with(diff.out, p.n("db")))
    assert "aliases" in db_lines and "recreate" not in db_lines, str(diff)
    p.apply_ok()
    db = p.container("db")
    assert db.id == before, "a new link must not recreate its target"
    assert db.status == "running"
    get = 'printf "GET /index.html HTTP/1.0\\r\\n\\r\\n" | nc -w 5 {} 80'
    assert "linked-page" in p.exec("c2", "sh", "-c", get.format("store"))[1]
    assert "linked-page" in p.exec("c1", "sh", "-c", get.format("database"))[1]
    after = p.diff()
    assert after.code == 0, f"no churn after an in-place alias update\n{after}"


def test_a_reverted_in_place_update_is_not_missed(project: Project) -> None:
    """Labels keep the creation-time values; after an in-place update, changing back to
    them is still a change (the ledger of in-place updates, controller/planning/ledger.py)."""
    p = project
    p.write("a.toml", loop_container(p.n("a"), restart='"always"'))
    p.apply_ok()
    before = p.container("a").id
    p.write("a.toml", loop_container(p.n("a"), restart='"no"'))
    p.apply_ok()
    assert p.container("a").attrs["HostConfig"]["RestartPolicy"]["Name"] == "no"
    p.write("a.toml", loop_container(p.n("a"), restart='"always"'))  # back to the label's
    diff = p.diff()
    assert diff.code == 2 and "restart" in diff.out, str(diff)
    p.apply_ok()
    c = p.container("a")
    assert c.id == before, "still an in-place update"
    assert c.attrs["HostConfig"]["RestartPolicy"]["Name"] == "always"
    assert p.diff().code == 0


def test_a_removed_link_removes_the_alias_after_an_in_place_add(project: Project) -> None:
    p = project
    p.write("db.toml", loop_container(p.n("db")))
    p.apply_ok()
    before = p.container("db").id
    p.write("c1.toml", loop_container(p.n("c1"), links=f'["{p.n("db")}:database"]'))
    p.apply_ok()  # db gains the alias in place
    p.write("c1.toml", loop_container(p.n("c1")))  # and loses it again
    diff = p.diff()
    assert diff.code == 2 and "aliases" in diff.out, str(diff)
    p.apply_ok()
    db = p.container("db")
    assert db.id == before
    nets = db.attrs["NetworkSettings"]["Networks"]
    aliases = {a for n in nets.values() for a in (n.get("Aliases") or [])}
    assert "database" not in aliases, aliases
    assert p.diff().code == 0


def test_a_hostname_dropped_from_the_spec_is_a_change(project: Project) -> None:
    """Setting ``hostname`` and taking it out again: the container must not keep the old
    name while ``diff`` says "no changes" (unset means the runtime's own, the short id)."""
    p = project
    p.write("a.toml", loop_container(p.n("a"), hostname='"custom-host"'))
    p.apply_ok()
    assert p.exec("a", "hostname")[1].strip() == "custom-host"
    p.write("a.toml", loop_container(p.n("a")))
    diff = p.diff("--output", "json")
    assert diff.code == 2, str(diff)
    action = next(a for a in json.loads(diff.out)["actions"] if a["name"] == p.n("a"))
    assert [c["field"] for c in action["changes"]] == ["hostname"], action
    p.apply_ok()
    c = p.container("a")
    assert p.exec("a", "hostname")[1].strip() == c.id[:12]
    assert p.diff().code == 0
