"""Golden hashes: the spec and update hashes of representative specs are pinned.

Why this matters: the hash labels of every managed container on every host were written
with these values. If a change of the hashing code (``controller.desired.hashing``: the
canonical form, ``controller.desired.state``: what is hashed) changes one of them, every
container on every host stops matching its label on upgrade. Release 0.1.0 recreated
every one of them for that (an outage on upgrade, for no change); this release falls
back to comparing every field and adopting (so a single comparison quirk would then
recreate, and drift could no longer be told from a spec change). Hashes change only
with a new ``HASH_SCHEME`` (and containers are then adopted, never recreated).
Also: the canonical form leaves defaults out and names fields, so adding a field with a
default or reordering fields changes no hash; secrets enter only keyed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from controller.desired.hashing import HASH_SCHEME, canonical, canonical_json, value_digest
from controller.desired.hostkey import KEY_FILE
from controller.execution.reconcile import prepare
from runtime.types import ContainerConfig, NetworkAttach, ResourceSpec, RestartSpec
from tests.controller.helpers import container, fake, write

WHY = ("the spec hash of a representative spec changed: every managed container on every "
       "host would no longer match its hash label after an upgrade (0.1.0 recreated all of "
       "them for that; this release compares every field instead). If this is intended, "
       "bump HASH_SCHEME in controller/desired/hashing.py and pin the new values here")

SPECS = {
    "a.toml": container("plain")
    + container("full", 'env = { A = "1", B = "two" }\nports = ["127.0.0.1:8080:80", "53/udp"]\n'
                'volumes = ["data:/data", "/cache", "/srv/conf:/etc/conf:ro"]\n'
                'restart = "on-failure:3"\nresources = { memory = "64m", cpus = 0.5, pids = 50 }\n'
                'healthcheck = { test = ["CMD", "true"], interval = "5s" }\n'
                'labels = { tier = "db" }\nworkdir = "/srv"\nuser = "nobody"\n'
                'hostname = "full-host"\nstop_signal = "SIGINT"\n')
    + '[volume.data]\n',
    "b.toml": container("secretive", 'env = { PASS = { file = "secrets/pass" } }\n'
                        'env_file = ["app.env"]\n')
    + container("linked", 'links = ["full:db"]\ndepends_on = ["full"]\nreplicas = 2\n'),
    "secrets/pass": "hunter2\n",
    "app.env": "X=1\nY=two\n",
}

GOLDEN: dict[str, tuple[str, str]] = {  # name -> (spec hash, update hash), scheme 2
    "full": ("376d9378f463c206942ffb9247a7dfb9", "961e315c8f531501fd2cc34ded66585c"),
    "linked-1": ("6835996c68ec40a743ee9e578f468a80", "b5b78c7d4b167891339a97f4d3acad8d"),
    "linked-2": ("c3825d5423b057097b02fd497a5b95c8", "b5b78c7d4b167891339a97f4d3acad8d"),
    "plain": ("ac862c22c8265e9557c338049f0ccfc6", "b5b78c7d4b167891339a97f4d3acad8d"),
    "secretive": ("df8316615f52e87897d04043f5672c4d", "b5b78c7d4b167891339a97f4d3acad8d"),
}


@pytest.fixture
def fixed_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / KEY_FILE).write_text("00" * 32)
    monkeypatch.setenv("DOCKWRIGHT_STATE_DIR", str(state))


def hashes(root: Path) -> dict[str, tuple[str, str]]:
    desired = prepare(root, fake(), project="t", revision="rev1").desired
    return {c.name: (c.hash_for("sha256:busybox"), c.update_hash) for c in desired.containers}


def test_golden_hashes(tmp_path: Path, fixed_key: None) -> None:
    assert HASH_SCHEME == "2", WHY
    got = hashes(write(tmp_path / "specs", SPECS))
    assert got == GOLDEN, WHY


def test_hashes_do_not_depend_on_the_spec_folder(tmp_path: Path, fixed_key: None) -> None:
    assert hashes(write(tmp_path / "one", SPECS)) == hashes(write(tmp_path / "two", SPECS))


def test_secret_values_enter_keyed(tmp_path: Path, fixed_key: None,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Another host key, another spec hash for a secret: the label is no guessing oracle."""
    root = write(tmp_path / "specs", SPECS)
    before = hashes(root)
    other = tmp_path / "other"
    other.mkdir()
    (other / KEY_FILE).write_text("11" * 32)
    monkeypatch.setenv("DOCKWRIGHT_STATE_DIR", str(other))
    after = hashes(root)
    assert after["secretive"] != before["secretive"]
    assert after["plain"] == before["plain"] and after["full"] == before["full"]


def test_defaults_are_left_out_and_fields_named() -> None:
    assert canonical(ContainerConfig("a", "img")) == {"name": "a", "image": "img"}
    config = ContainerConfig("a", "img", restart=RestartSpec("always"),
                             resources=ResourceSpec(memory=64), networks=(NetworkAttach("n"),))
    assert canonical_json(config) == (
        '{"image":"img","name":"a","networks":[{"network":"n"}],'
        '"resources":{"memory":64},"restart":{"name":"always"}}')


def test_a_new_field_with_a_default_or_another_order_changes_no_hash() -> None:
    @dataclasses.dataclass(frozen=True)
    class Old:
        image: str
        env: tuple[str, ...] = ()

    @dataclasses.dataclass(frozen=True)
    class New:  # one field more (with its default), the others reordered
        env: tuple[str, ...] = ()
        stop_grace: float | None = None
        image: str = ""

    assert value_digest(Old("img", ("A=1",))) == value_digest(New(("A=1",), image="img"))
    assert value_digest(Old("img")) != value_digest(New(image="img", stop_grace=2))


HOST_KEYS = {  # a spec using the keys of issue 12 (its hashes are pinned from their release)
    "h.toml": container("hosty", 'init = true\ncap_add = ["net_admin"]\ncap_drop = ["MKNOD"]\n'
                        'devices = ["/dev/fuse"]\nextra_hosts = { "db.local" = "10.0.0.5" }\n'
                        'dns = ["1.1.1.1"]\ndns_search = ["example.com"]\ndns_opt = ["ndots:2"]\n'
                        'ulimits = { nofile = { soft = 1024, hard = 2048 } }\n'
                        'sysctls = { "net.core.somaxconn" = 1024 }\n'
                        'logging = { driver = "json-file", options = { max-size = "10m" } }\n'
                        'security_opt = ["no-new-privileges"]\nread_only = true\n'
                        'shm_size = "32m"\ntmpfs = ["/run", "/tmp:size=64m"]\n'
                        'group_add = ["1234"]\nipc = "shareable"\nexpose = ["8080"]\n'
                        'ports = ["8000-8001:9000-9001"]\ndomainname = "example.com"\n'
                        'mac_address = "02:42:ac:11:00:02"\noom_score_adj = 100\n'
                        'healthcheck = { disable = true }\n'
                        'resources = { memory = "64m", memory_swap = "96m", cpu_shares = 512, '
                        'cpuset = "0", reservations = { memory = "32m" } }\n')
    + container("joined", 'network_mode = "container:hosty"\npid = "container:hosty"\n'),
}
HOST_GOLDEN: dict[str, tuple[str, str]] = {  # scheme 2
    "hosty": ("2991aa131af827f7af43fe145eeae807", "a0b6efae49881e24075ca6a9190945a5"),
    "joined": ("3da0a5e008f3b558b2c23be8b852e527", "214e684f7fb97937d9ffd3da712eca38"),
}


def test_golden_hashes_of_the_host_level_keys(tmp_path: Path, fixed_key: None) -> None:
    assert hashes(write(tmp_path / "specs", HOST_KEYS)) == HOST_GOLDEN, WHY
