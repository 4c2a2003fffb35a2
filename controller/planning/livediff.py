"""The field changes of one live container, as the plan weighs them.

Role: between ``controller.planning.compare`` (the pure rule table: desired
config vs live config) and ``controller.planning.plan`` (which turns changes
into an action and a cause). It adds what the plan knows besides the two
configs: a spec hash of the current scheme equal to the spec's means the
fields that cannot change on a live container did not (only in-place ones
count, so a quirk of a comparison never recreates); a file digest written
before digests were keyed (``controller.desired.hostkey``) that equals the
file's plain digest is the same content, and a keyed digest of a secret or env
file that differs while the container's env equals the spec's is the same env
under another host key (the key file was lost or replaced); a network the
container was joined to by hand that the project neither made nor declares (a
reverse proxy's) is left alone, whatever wrote the container's labels, while
one the project declares ``external`` is left when the spec drops it; an
endpoint on a network id that is no longer the network's of that name (removed
and made again under a stopped container) is joined again. Pure.
"""

from __future__ import annotations

from controller.desired.hostkey import is_keyed
from controller.desired.state import DesiredContainer
from controller.planning import compare
from controller.planning.diff import FieldChange, show
from controller.planning.observe import Observed
from runtime.types import ContainerInfo


def file_field(what: str) -> str:
    """The FieldChange name of a referenced file (``secret:a/b`` -> ``secret[a/b]``)."""
    kind, _, path = what.partition(":")
    return f"{kind}[{path}]"


def live_changes(c: DesiredContainer, live: ContainerInfo, observed: Observed,
                 same_spec: bool, declared: frozenset[str] = frozenset()) -> list[FieldChange]:
    """Field changes from ``live`` to ``c``; ``same_spec``: the container's recorded spec hash
    (current scheme) equals the desired one; ``declared``: the networks the project declares
    (external ones included)."""
    changes = compare.compare(c, live, observed.images.get(c.image.key))
    if same_spec:
        changes = [ch for ch in changes if compare.in_place_field(ch.field)]
    plain = {file_field(what): digest for what, digest in c.plain_files}
    # secret and env files reach the container only through its env: with every env value
    # equal (the image known, so a key the spec dropped shows too), a keyed digest that
    # differs was keyed with another host key (the key file lost or replaced)
    env_same = observed.images.get(c.image.key) is not None and not any(
        ch.field.startswith("env.") for ch in changes)
    out = []
    for ch in changes:
        if ch.field in plain and ch.old == plain[ch.field] and not is_keyed(ch.old):
            continue  # an unkeyed label of the same content: adopted, not changed
        if ch.field in plain and env_same and is_keyed(ch.old) and ch.new is not None:
            continue  # the same env under another key: adopted, not changed
        net = ch.field.removeprefix("networks.")
        if ch.field.startswith("networks.") and ch.new is None and (
                not ch.field.endswith(".aliases")) and not observed.owned_network(net) and (
                net not in declared):
            continue  # joined by hand to a network the project neither made nor declares
        out.append(ch)
    return out + _stale_endpoints(c, live, observed, {ch.field for ch in out})


def _stale_endpoints(c: DesiredContainer, live: ContainerInfo, observed: Observed,
                     named: set[str]) -> list[FieldChange]:
    """Declared networks the container's endpoint refers to by an id that is no longer the
    network's (removed under a stopped container, made again): joined again in place."""
    declared = {n.network: sorted(n.aliases) for n in c.config.networks}
    out = []
    for net, made_on in live.network_ids:
        field = f"networks.{net}"
        have = observed.networks.get(net)
        if made_on and net in declared and field not in named and (
                have is None or have.id != made_on):
            out.append(FieldChange(field, None, show(declared[net]), in_place=True))
    return out
