"""The fake driver reports image defaults as Docker does (the cases of the contract test).

``tests/contract/test_image_defaults.py`` checks Docker and the native runtime
against a table of configs and the values a container created from the
defaults test image reports; the fake, which the planner's tests rely on,
must report the same values for the same image (it calls
``runtime.imagedefaults.merge``, as the native runtime does).
"""

from __future__ import annotations

from typing import Any

import pytest

from runtime.fake import FakeDriver
from runtime.types import ContainerConfig
from tests.contract.test_image_defaults import CASES, FIELDS, IMAGE_HEALTH, IMAGE_VALUES


@pytest.mark.parametrize(("case", "fields", "differs"), CASES, ids=[c[0] for c in CASES])
def test_fake_reports_what_docker_reports(case: str, fields: dict[str, Any],
                                          differs: dict[str, Any]) -> None:
    driver = FakeDriver()
    driver.add_image("defaults:1", env=IMAGE_VALUES["env"], command=IMAGE_VALUES["command"],
                     entrypoint=IMAGE_VALUES["entrypoint"], workdir="/srv", user="65534",
                     healthcheck=IMAGE_HEALTH, stop_signal="SIGUSR1")
    driver.create_container(ContainerConfig(name="cc", image="defaults:1", **fields))
    reported = driver.inspect_container("cc").config
    assert {f: getattr(reported, f) for f in FIELDS} == {**IMAGE_VALUES, **differs}
