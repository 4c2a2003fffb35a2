"""Image sources on the fake driver: build contexts and archives, with and without a ref."""

from __future__ import annotations

from pathlib import Path

from controller.planning.plan import Kind
from tests.controller.helpers import converge, fake, plan_of, rows, write


def test_build_once_and_rebuild_when_the_context_changes(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.toml": '[container.app]\nimage = { build = "ctx" }\n',
                            "ctx/Dockerfile": "FROM scratch\n"})
    driver = fake()
    plan = plan_of(root, driver)
    assert rows(plan)[0] == ("build", "t/app:dockwright", "image t/app:dockwright not found")
    converge(root, driver)
    assert rows(plan_of(root, driver)) == []
    (root / "ctx" / "Dockerfile").write_text("FROM scratch\nENV X=1\n")
    got = rows(plan_of(root, driver))
    assert got == [("build", "t/app:dockwright", "build context changed"),
                   ("recreate", "app", "build[ctx] changed")]
    converge(root, driver)
    assert rows(plan_of(root, driver)) == []


def test_archive_loaded_when_missing_or_changed(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "a.toml": '[container.aa]\nimage = { archive = "img.tar", ref = "img:latest" }\n'
                  '[container.bb]\nimage = { archive = "other.tar" }\n',
        "img.tar": "one", "other.tar": "x"})
    driver = fake()
    first = plan_of(root, driver)
    assert sorted((a.kind.value, a.name) for a in first.changes if a.object == "image") == [
        ("load", str(root / "other.tar")), ("load", "img:latest")]
    b = next(a for a in first.actions if a.name == "bb")
    assert f"image:archive:{root / 'other.tar'}" in b.depends_on
    converge(root, driver)
    assert rows(plan_of(root, driver)) == []
    (root / "img.tar").write_text("two")
    (root / "other.tar").write_text("y")
    plan = plan_of(root, driver)
    kinds = sorted((a.kind.value, a.name) for a in plan.changes)
    assert ("recreate", "aa") in kinds and ("recreate", "bb") in kinds
    assert sum(1 for a in plan.changes if a.kind is Kind.LOAD) == 2
    converge(root, driver)
    assert rows(plan_of(root, driver)) == []
