"""Single values the models normalise or refuse: stop signals, subnets, aliases.

Neighbours: ``specs.models``, ``specs.names``; the golden fixtures cover the
messages as printed, these cover the accepted forms.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from specs.models import Container, Network


@pytest.mark.parametrize(("given", "stored"), [
    ("SIGTERM", "SIGTERM"), ("TERM", "SIGTERM"), ("sigint", "SIGINT"),
    ("SIGRTMIN+3", "SIGRTMIN+3"), ("9", "9"),
])
def test_stop_signal_forms_docker_takes(given: str, stored: str) -> None:
    spec = Container.model_validate({"image": "busybox", "stop_signal": given})
    assert spec.stop_signal == stored


def test_bad_values_are_refused_with_the_form_to_use() -> None:
    with pytest.raises(ValidationError, match="use a name such as"):
        Container.model_validate({"image": "busybox", "stop_signal": "no such"})
    with pytest.raises(ValidationError, match="CIDR notation"):
        Network.model_validate({"subnet": "10.0.0.0/40"})
    with pytest.raises(ValidationError, match="invalid alias"):
        Container.model_validate({"image": "busybox", "links": ["db:not ok"]})
    assert Network.model_validate({"subnet": "172.28.0.0/16"}).subnet == "172.28.0.0/16"
