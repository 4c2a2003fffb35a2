"""Contract: ``secrets`` and ``configs`` on every driver, through the controller.

Each lands read-only at its target with the mode and owner asked for; a second pass
changes nothing; a content change recreates the container with a reason that names the
secret and never shows its value (nor its digest); the old copy is removed once no
container mounts it, and all of them once the secrets are gone from the spec. The
value is in no label, no inspect, no plan, no pass result and no event. Neighbours:
``controller.desired.files``, ``controller.execution.copies``, ``runtime.filemounts``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.desired.files import copies_dir
from controller.execution.reconcile import PassResult, reconcile
from runtime.driver import Driver
from tests.conftest import cleanup_project

LOOP = "[\"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 1; done\"]"
SHOW = ("for f in /run/secrets/db_password /etc/app.conf; do "
        "echo \"$f $(stat -c '%a %u %g' $f) $(cat $f)\"; "
        "if echo x 2>/dev/null > $f; then echo \"$f writable\"; fi; done")


class Ctl:
    def __init__(self, driver: Driver, image: str, root: Path, name: str) -> None:
        self.driver, self.image, self.root, self.name = driver, image, root, name
        self.events: list[dict[str, Any]] = []
        root.mkdir()

    @property
    def web(self) -> str:
        return f"{self.name}-web"

    def spec(self, secret: str | None, config: str = "level = 1") -> None:
        body = (f"[container.{self.web}]\nimage = \"{self.image}\"\ncommand = {LOOP}\n"
                "stop_timeout = \"1s\"\n")
        (self.root / "app.conf").write_text(config + "\n")
        body += 'configs = { "/etc/app.conf" = { file = "app.conf" } }\n'
        if secret is not None:
            (self.root / "db_password").write_text(secret + "\n")
            body += ('secrets = { db_password = { file = "db_password", mode = "0440", '
                     'uid = 1000, gid = 2000 } }\n')
        (self.root / "a.toml").write_text(body)

    def apply(self) -> PassResult:
        result = reconcile(self.root, self.driver, project=self.name,
                           on_event=self.events.append)
        assert result.ok, result.to_json()
        return result

    def show(self) -> str:
        found = self.driver.exec_in(self.web, ["sh", "-c", SHOW])
        return found.output.decode()

    def copies(self) -> set[str]:
        folder = copies_dir(self.driver.name, self.name)
        return {p.name for p in folder.iterdir()} if folder.exists() else set()

    def nowhere(self, value: str, result: PassResult) -> None:
        """``value`` is in no label, inspect, plan, pass result or event."""
        info = self.driver.inspect_container(self.web)
        for where, text in (("inspect", repr(info)),
                            ("pass result", json.dumps(result.to_json())),
                            ("events", json.dumps(self.events, default=str))):
            assert value not in text, f"the secret's value is in the {where}"


@pytest.fixture
def ctl(driver: Driver, image: str, tmp_path: Path) -> Iterator[Ctl]:
    name = f"dwt-{uuid.uuid4().hex[:8]}"
    c = Ctl(driver, image, tmp_path / name, name)
    try:
        yield c
    finally:
        assert not cleanup_project(driver, name)


def test_placed_read_only_with_mode_and_owner(ctl: Ctl) -> None:
    ctl.spec("s3cret-one")
    first = ctl.apply()
    assert ctl.show().splitlines() == [
        "/run/secrets/db_password 440 1000 2000 s3cret-one",
        "/etc/app.conf 444 0 0 level = 1"]
    again = ctl.apply()
    assert not again.changed, again.to_json()
    ctl.nowhere("s3cret-one", first)
    assert len(ctl.copies()) == 2


def test_a_content_change_recreates_naming_the_secret_never_its_value(ctl: Ctl) -> None:
    ctl.spec("s3cret-one")
    ctl.apply()
    before = ctl.copies()
    old_id = ctl.driver.inspect_container(ctl.web).summary.id
    ctl.spec("s3cret-two")
    result = ctl.apply()
    (action,) = [o for o in result.outcomes if o.changed]
    assert action.action.reason == "secrets.db_password changed"
    shown = json.dumps(result.to_json())
    digests = [f.digest for f in ctl.driver.inspect_container(ctl.web).config.files]
    assert not any(d in shown for d in digests), "a secret's digest is shown"
    assert ctl.driver.inspect_container(ctl.web).summary.id != old_id
    assert "s3cret-two" in ctl.show()
    ctl.nowhere("s3cret-two", result)
    ctl.nowhere("s3cret-one", result)
    after = ctl.copies()
    assert len(after) == 2 and len(after & before) == 1, "the old secret's copy stays"
    ctl.spec("s3cret-two", config="level = 2")  # a config change shows what changed
    result = ctl.apply()
    (action,) = [o for o in result.outcomes if o.changed]
    assert action.action.reason == "configs./etc/app.conf changed"
    ctl.spec(None, config="level = 2")
    ctl.apply()
    assert "/etc/app.conf 444 0 0 level = 2" in ctl.show()
    assert "s3cret" not in ctl.show()
    assert len(ctl.copies()) == 1, "the removed secret's copy stays"
