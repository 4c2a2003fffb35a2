"""``secrets`` and ``configs`` in the spec language: their forms and defaults, and the
located errors for a bad name, target or mode, a missing file, a file outside the spec
directory and two files (or a file and a volume) at one target."""

from __future__ import annotations

import os
from pathlib import Path

from specs.filerefs import DEFAULT_MODE
from specs.loader import load_dir
from specs.models import Container


def _load(root: Path, body: str) -> list[str]:
    (root / "db_password").write_text("s3cret\n")
    (root / "app.conf").write_text("level = 1\n")
    (root / "web.toml").write_text('[container.web]\nimage = "busybox"\n' + body)
    return [e.format() for e in load_dir(root).all_errors()]


def test_forms_and_defaults(tmp_path: Path) -> None:
    assert _load(tmp_path, (
        'secrets = { db_password = { file = "db_password" }, '
        'api = { file = "db_password", target = "api_key", mode = "0400", uid = 1000 }, '
        'tls = { file = "db_password", target = "/etc/tls/key.pem", mode = 0o440 } }\n'
        'configs = { "/etc/app.conf" = { file = "app.conf", gid = 5 } }\n')) == []
    (res,) = load_dir(tmp_path).resources("container")
    spec = res.spec
    assert isinstance(spec, Container)
    placed = {name: (ref.path_in_container(name), ref.mode, ref.uid)
              for name, ref in spec.secrets.items()}
    assert placed == {"db_password": ("/run/secrets/db_password", None, None),
                      "api": ("/run/secrets/api_key", 0o400, 1000),
                      "tls": ("/etc/tls/key.pem", 0o440, None)}
    assert spec.secrets["api"].file == str(tmp_path / "db_password")
    assert spec.configs["/etc/app.conf"].gid == 5 and DEFAULT_MODE == 0o444


def test_bad_name_target_and_mode_are_located(tmp_path: Path) -> None:
    assert _load(tmp_path, (
        'secrets = { "db password" = { file = "db_password" }, '
        'up = { file = "db_password", target = "../etc/shadow" } }\n'
        'configs = { "etc/app.conf" = { file = "app.conf", mode = "0999" } }\n')) == [
        "web.toml:3: container.web.secrets.\"db password\": invalid secret name 'db password': "
        "use letters, digits, '_', '.' and '-', starting with a letter or digit (at most 64)",
        "web.toml:3: container.web.secrets.up.target: secret target "
        "'/run/secrets/../etc/shadow' must be a plain path to a file (no '..', '.', '//' or "
        "trailing '/'), e.g. \"/etc/app.conf\"",
        "web.toml:4: container.web.configs.\"etc/app.conf\": config target 'etc/app.conf' must "
        "be an absolute path, e.g. \"/etc/app.conf\"",
        "web.toml:4: container.web.configs.\"etc/app.conf\".mode: invalid mode '0999': write it "
        "in octal, e.g. mode = \"0440\" or mode = 0o440",
    ]


def test_missing_and_outside_files_are_located(tmp_path: Path) -> None:
    root = tmp_path / "specs"
    root.mkdir()
    (tmp_path / "outside").write_text("x")
    os.symlink(tmp_path / "outside", root / "link")
    assert _load(root, (
        'secrets = { pw = { file = "nothere" } }\n'
        'configs = { "/etc/app.conf" = { file = "link" } }\n')) == [
        "web.toml:3: container.web.secrets.pw.file: secret file 'nothere' does not exist — "
        "create it or fix the path (relative paths start at this file's folder)",
        "web.toml:4: container.web.configs.\"/etc/app.conf\".file: config file 'link' is "
        f"outside the spec directory (it leads to {tmp_path}/outside) — keep it inside the "
        f"spec directory, or allow the host folder with [project] allow_host_paths = "
        f"[\"{tmp_path}\"]",
    ]


def test_a_target_is_taken_once(tmp_path: Path) -> None:
    assert _load(tmp_path, (
        'volumes = ["/run/secrets/pw"]\n'
        'secrets = { pw = { file = "db_password" }, '
        'conf = { file = "db_password", target = "/etc/app.conf" } }\n'
        'configs = { "/etc/app.conf" = { file = "app.conf" } }\n')) == [
        "web.toml:4: container.web.secrets.pw: secret 'pw' lands at /run/secrets/pw, where "
        "volumes[0] lands too — give each secret, config and volume its own target",
        "web.toml:5: container.web.configs.\"/etc/app.conf\": config '/etc/app.conf' lands at "
        "/etc/app.conf, where secret 'conf' lands too — give each secret, config and volume "
        "its own target",
    ]
