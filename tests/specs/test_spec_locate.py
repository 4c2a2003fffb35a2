"""Key paths to lines in TOML text, and ${VAR} interpolation."""

from __future__ import annotations

from pathlib import Path

import pytest

from specs.files import read_dotenv
from specs.loader import interpolate
from specs.locate import Locator, format_path, syntax_error_line

SOURCE = """\
#:schema x
[container.web]
image = "busybox"   # comment
env = { FOO = "a", "B.C" = { file = "x" } }
ports = [
  "80:80",  # first
  { host = 81, container = 82 },
]
healthcheck.test = ["CMD", "true"]
s = \"\"\"multi
line\"\"\"

[container.web.resources]
memory = "1g"

[[container.db.ports]]
container = 1
[[container.db.ports]]
container = 2
"""


@pytest.mark.parametrize(("path", "line"), [
    (("container", "web"), 2),
    (("container", "web", "image"), 3),
    (("container", "web", "env", "FOO"), 4),
    (("container", "web", "env", "B.C", "file"), 4),
    (("container", "web", "ports"), 5),
    (("container", "web", "ports", 0), 6),
    (("container", "web", "ports", 1, "host"), 7),
    (("container", "web", "healthcheck", "test", 1), 9),
    (("container", "web", "s"), 10),
    (("container", "web", "resources", "memory"), 14),
    (("container", "db", "ports", 1, "container"), 19),
    (("container", "web", "unknown", "deeper"), 2),  # the nearest recorded ancestor
    (("volume", "nope"), None),
])
def test_line_of(path: tuple[str | int, ...], line: int | None) -> None:
    assert Locator(SOURCE).line_of(path) == line


def test_format_path_quotes_keys_that_are_not_bare() -> None:
    assert format_path(("container", "web", "ports", 1)) == "container.web.ports[1]"
    assert format_path(("container", "web", "env", "A.B")) == 'container.web.env."A.B"'


def test_syntax_error_line_comes_from_the_message() -> None:
    assert syntax_error_line("Unclosed array (at line 4, column 1)", "") == 4
    assert syntax_error_line("Unexpected end (at end of document)", "a\nb\n") == 2


def test_broken_text_never_raises() -> None:
    assert Locator('[container.web\nimage = "x').line_of(("container", "web")) is None


def test_interpolation_follows_compose() -> None:
    env = {"SET": "v", "EMPTY": ""}
    assert interpolate("${SET}-${EMPTY}", env) == "v-"
    assert interpolate("${UNSET:-d} ${EMPTY:-d} ${EMPTY-d} ${SET:-d}", env) == "d d  v"
    assert interpolate("$$HOME costs $5", env) == "$HOME costs $5"
    with pytest.raises(ValueError, match="variable UNSET is not set"):
        interpolate("${UNSET}", env)
    with pytest.raises(ValueError, match="need it"):
        interpolate("${EMPTY:?need it}", env)
    with pytest.raises(ValueError, match="invalid interpolation"):
        interpolate("${1BAD}", env)


def test_dotenv_parsing(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text('# comment\nA=1\nexport B="two words"\n\nC=\'x\'\nbad line\n')
    values, errors = read_dotenv(path)
    assert values == {"A": "1", "B": "two words", "C": "x"}
    assert [(e.file, e.line) for e in errors] == [(".env", 6)]
