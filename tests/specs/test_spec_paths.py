"""Paths in spec files: relative to the declaring file's folder, ``~`` expanded.

Neighbours: ``specs.models`` (``_resolve``, ``Mount``), ``specs.loader``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from specs.loader import load_dir
from specs.models import Container


def test_home_and_relative_paths_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / "cfg").mkdir(parents=True)
    (home / "app.env").write_text("A=1\n")
    (home / "pw").write_text("secret\n")
    monkeypatch.setenv("HOME", str(home))
    specs = tmp_path / "specs" / "sub"
    specs.mkdir(parents=True)
    (specs / "p.toml").write_text('[project]\nallow_host_paths = ["~"]\n')
    (specs / "a.toml").write_text(
        '[container.web]\nimage = "busybox"\n'
        'volumes = ["~/cfg:/cfg:ro", "./data:/data", { type = "bind", source = "~/cfg", '
        'target = "/c2" }]\n'
        'env_file = ["~/app.env"]\nenv = { PW = { file = "~/pw" } }\n')
    loaded = load_dir(tmp_path / "specs", environ={})
    assert loaded.all_errors() == []
    spec = loaded.resources()[0].spec
    assert isinstance(spec, Container)
    assert [m.source for m in spec.volumes] == [str(home / "cfg"), str(specs / "data"),
                                                str(home / "cfg")]
    assert spec.env_file == (str(home / "app.env"),)
    assert spec.env["PW"].file == str(home / "pw")  # type: ignore[union-attr]
