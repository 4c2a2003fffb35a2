"""``update_order``: start-first is refused where the old and the new container would
clash (a fixed host port) or write the same data (a writable volume or volumes_from)."""

from __future__ import annotations

from pathlib import Path

import pytest

from specs.loader import load_dir
from specs.models import Container

BASE = ('[volume.data]\n\n[container.src]\nimage = "busybox"\n\n'
        '[container.web]\nimage = "busybox"\n')


def errors(tmp_path: Path, extra: str) -> list[str]:
    (tmp_path / "a.toml").write_text(BASE + extra)
    return [e.format() for e in load_dir(tmp_path).all_errors()]


def test_the_default_is_stop_first(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(BASE)
    web = next(r for r in load_dir(tmp_path).resources() if r.name == "web").spec
    assert isinstance(web, Container) and web.update_order == "stop-first"


@pytest.mark.parametrize("extra", [
    'ports = ["80", "127.0.0.1::81"]',  # the runtime picks host ports: no clash
    'volumes = ["/etc/app:/etc/app:ro", { type = "tmpfs", target = "/tmp" }]',
    'volumes_from = ["src:ro"]',
    'volumes = ["data:/data"]\nupdate_order = "stop-first"',
])
def test_start_first_where_nothing_clashes(tmp_path: Path, extra: str) -> None:
    order = "" if "update_order" in extra else 'update_order = "start-first"\n'
    assert errors(tmp_path, order + extra + "\n") == []


@pytest.mark.parametrize(("extra", "where", "what"), [
    ('ports = ["8080:80"]', "container.web.ports[0]", "fixed host port 8080"),
    ('volumes = ["data:/data"]', "container.web.volumes[0]", "writable volume '/data'"),
    ('volumes = ["/data"]', "container.web.volumes[0]", "writable volume '/data'"),
    ('volumes = ["/srv:/srv"]', "container.web.volumes[0]", "writable volume '/srv'"),
    ('volumes_from = ["src"]', "container.web.volumes_from[0]", "writable volumes_from 'src'"),
])
def test_start_first_where_copies_clash(tmp_path: Path, extra: str, where: str,
                                        what: str) -> None:
    found = errors(tmp_path, f'update_order = "start-first"\n{extra}\n')
    assert len(found) == 1, found
    assert found[0].startswith(f"a.toml:9: {where}: update_order"), found
    assert what in found[0] and 'update_order = "stop-first"' in found[0], found


def test_an_unknown_order_is_a_located_error(tmp_path: Path) -> None:
    found = errors(tmp_path, 'update_order = "rolling"\n')
    assert len(found) == 1 and found[0].startswith("a.toml:8: container.web.update_order"), found
