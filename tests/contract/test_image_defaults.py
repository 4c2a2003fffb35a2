"""Contract: a container reports its image's defaults as ``runtime.imagedefaults`` merges them.

The image ``dockwright-test/busybox-defaults`` sets every default an image can
give a container (env, labels, workdir, user, stop signal, a healthcheck with
timings, entrypoint and cmd). For each config of :data:`CASES`, what the
driver reports after create equals, field by field, both the values the
table states (Docker's rules, as the daemon applies them: an entrypoint, even
an empty one, drops the image's cmd; an empty command takes it; a
healthcheck's unset timings come from the image's) and
``runtime.imagedefaults.merge``; and the controller sees no change
(``controller.planning.compare``), so a converged container is never
recreated over its image's defaults. Neighbours: ``tests/contract/conftest.py``,
``tests/images.py`` (``defaults_image``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controller.desired.state import DesiredContainer, DesiredImage
from controller.planning.compare import compare
from runtime.driver import Driver
from runtime.imagedefaults import merge
from runtime.types import HealthSpec
from tests.contract.conftest import Project
from tests.images import DEFAULTS_IMAGE, defaults_image, save_image

pytestmark = pytest.mark.docker

FIELDS = ("command", "entrypoint", "env", "workdir", "user", "healthcheck", "stop_signal")
PATH = ("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
IMAGE_ENV = (("A", "1"), ("B", "2"), PATH)
IMAGE_HEALTH = HealthSpec(("CMD-SHELL", "true"), interval=7.0, retries=4)
IMAGE_VALUES: dict[str, Any] = {
    "command": ("echo from-image",), "entrypoint": ("/bin/sh", "-c"), "env": IMAGE_ENV,
    "workdir": "/srv", "user": "65534", "healthcheck": IMAGE_HEALTH, "stop_signal": "SIGUSR1",
}
# (case, config fields, the reported values that differ from IMAGE_VALUES)
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("nothing set", {}, {}),
    ("empty entrypoint", {"entrypoint": (), "command": ("sleep", "1")},
     {"entrypoint": None, "command": ("sleep", "1")}),
    ("entrypoint, no command", {"entrypoint": ("/bin/echo",)},
     {"entrypoint": ("/bin/echo",), "command": None}),
    ("entrypoint and command", {"entrypoint": ("/bin/echo",), "command": ("x",)},
     {"entrypoint": ("/bin/echo",), "command": ("x",)}),
    ("command only", {"command": ("echo mine",)}, {"command": ("echo mine",)}),
    ("empty command", {"command": ()}, {}),
    ("env override", {"env": (("A", "9"), ("B", ""), ("C", "3"))},
     {"env": (("A", "9"), ("B", ""), ("C", "3"), PATH)}),
    ("healthcheck test only", {"healthcheck": HealthSpec(("CMD", "false"))},
     {"healthcheck": HealthSpec(("CMD", "false"), interval=7.0, retries=4)}),
    ("healthcheck timing only", {"healthcheck": HealthSpec((), interval=3.0, timeout=2.0)},
     {"healthcheck": HealthSpec(("CMD-SHELL", "true"), 3.0, 2.0, 4)}),
    ("healthcheck disabled", {"healthcheck": HealthSpec(("NONE",))},
     {"healthcheck": HealthSpec(("NONE",), interval=7.0, retries=4)}),
    ("workdir, user, stop signal", {"workdir": "/tmp", "user": "0", "stop_signal": "SIGTERM"},
     {"workdir": "/tmp", "user": "0", "stop_signal": "SIGTERM"}),
]


@pytest.fixture(scope="module")
def defaults_ref(driver: Driver, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The defaults test image, present in ``driver`` (loaded from a ``docker save``)."""
    archive: Path = tmp_path_factory.mktemp("defaults-image") / "defaults.tar"
    save_image(defaults_image(), archive)
    assert DEFAULTS_IMAGE in driver.load_image(archive)
    return DEFAULTS_IMAGE


@pytest.mark.parametrize(("case", "fields", "differs"), CASES, ids=[c[0] for c in CASES])
def test_reported_defaults_are_the_merged_ones(driver: Driver, project: Project, defaults_ref: str,
                                               case: str, fields: dict[str, Any],
                                               differs: dict[str, Any]) -> None:
    config = project.config(case.replace(" ", "-").replace(",", ""), image=defaults_ref,
                            **{"command": None, **fields})
    image = driver.image_info(defaults_ref)
    assert image is not None
    reported = driver.inspect_container(driver.create_container(config))
    values = {**IMAGE_VALUES, **differs}
    assert {f: getattr(reported.config, f) for f in FIELDS} == values
    assert {f: getattr(merge(config, image), f) for f in FIELDS} == values
    labels = dict(reported.config.labels)
    assert labels["org.example.vendor"] == "v" and labels == dict(merge(config, image).labels)
    desired = DesiredContainer(case, config.name, 1, "a.toml", config,
                               DesiredImage(defaults_ref, defaults_ref))
    assert compare(desired, reported, image) == []
