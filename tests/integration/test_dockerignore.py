"""A build context's ``.dockerignore`` is honoured by the change detection.

A changed ignored file (a log, ``.git/``, ``node_modules/``, a local ``.env``)
is not sent to Docker's build, so it must neither rebuild the image nor
recreate the container; a changed file that is sent must do both. Neighbours:
``dwutil.dockerignore`` / ``controller.desired.hashing.tree_digest`` (under test),
``tests/integration/test_images.py`` (the build basics).
"""

from __future__ import annotations

import pytest

from .conftest import Project, image_id
from .test_images import _container

pytestmark = pytest.mark.docker

IGNORE = "# local state\n*.log\n.git\n/.env\nnode_modules/\n!node_modules/keep.txt\n"


def _ls(p: Project, short: str) -> set[str]:
    code, out = p.exec(short, "find", "/ctx")
    assert code == 0, out
    return set(out.split())


def test_ignored_files_do_not_rebuild_or_recreate(project: Project) -> None:
    p = project
    ref = f"{p.name}/ignoring:dev"
    p.images.append(ref)
    p.write("ctx/Dockerfile", "FROM dockwright-test/busybox:latest\nCOPY . /ctx/\n")
    p.write("ctx/.dockerignore", IGNORE)
    for rel in ("app.txt", "debug.log", ".git/HEAD", ".env", "node_modules/pkg/index.js",
                "node_modules/keep.txt"):
        p.write(f"ctx/{rel}", "v1\n")
    p.write("a.toml", _container(p.n("a"), f'{{ ref = "{ref}", build = "ctx" }}'))
    p.apply_ok()
    first = p.container("a")
    p.images.append(image_id(first))
    files = _ls(p, "a")
    assert {"/ctx/app.txt", "/ctx/node_modules/keep.txt"} <= files, files
    assert not {"/ctx/debug.log", "/ctx/.git", "/ctx/.env", "/ctx/node_modules/pkg"} & files, (
        f"Docker itself leaves the ignored files out\n{files}")

    for rel in ("debug.log", "new.log", ".git/HEAD", ".git/refs/heads/main", ".env",
                "node_modules/pkg/index.js", "node_modules/other/x.js"):
        p.write(f"ctx/{rel}", "v2\n")
    diff = p.diff()
    assert diff.code == 0, f"a changed ignored file is no change\n{diff}"
    p.apply_ok()
    assert p.container("a").id == first.id, "an ignored file does not recreate"

    p.write("ctx/node_modules/keep.txt", "v2\n")  # re-included by "!node_modules/keep.txt"
    diff = p.diff()
    assert diff.code == 2, f"a changed file that is sent is a change\n{diff}"
    p.apply_ok()
    second = p.container("a")
    p.images.append(image_id(second))
    assert second.id != first.id, "a changed file that is sent recreates"
    code, out = p.exec("a", "cat", "/ctx/node_modules/keep.txt")
    assert (code, out) == (0, "v2\n")
    assert p.diff().code == 0
