"""Values Docker or the kernel would refuse at apply, refused (or kept) by ``validate``.

The refusals themselves, with their exact lines, are the golden case
``tests/fixtures/specs/invalid/hostile``; here: what still passes, and how it is
normalised, at the edges of each rule.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from specs.loader import load_dir
from specs.models import Container


def _load(tmp_path: Path, body: str, name: str = "web") -> Container | str:
    (tmp_path / "a.toml").write_text(f'[container.{name}]\nimage = "busybox"\n{body}\n')
    specs = load_dir(tmp_path, environ={})
    if not specs.ok:
        return "\n".join(e.format() for e in specs.all_errors())
    spec = specs.resources()[0].spec
    assert isinstance(spec, Container)
    return spec


@pytest.mark.parametrize(("written", "kept"), [
    ('"sigterm"', "SIGTERM"), ('"TERM"', "SIGTERM"), ('"rtmin+3"', "SIGRTMIN+3"),
    ('"SIGRTMAX-14"', "SIGRTMAX-14"), ('"1"', "1"), ('"64"', "64")])
def test_signals_docker_takes_pass_normalised(tmp_path: Path, written: str, kept: str) -> None:
    spec = _load(tmp_path, f"stop_signal = {written}")
    assert isinstance(spec, Container), spec
    assert spec.stop_signal == kept


@pytest.mark.parametrize("written", ['"SIGFOO"', '"0"', '"65"', '"RTMIN+16"', '"SIG"'])
def test_signals_docker_refuses_fail(tmp_path: Path, written: str) -> None:
    assert "invalid stop_signal" in str(_load(tmp_path, f"stop_signal = {written}"))


@pytest.mark.parametrize("ports", [
    '["127.0.0.1:8080:80"]', '["[::1]:8080:80"]', '["0.0.0.0:8080:80/udp"]',
    '[{ container = 80, ip = "fd00::10" }]', '[{ container = 80, ip = "::" }]'])
def test_valid_addresses_pass(tmp_path: Path, ports: str) -> None:
    assert isinstance(_load(tmp_path, f"ports = {ports}"), Container)


@pytest.mark.parametrize("ports", [
    '["127.0.0.256:8080:80"]', '["localhost:8080:80"]', '["[::g]:8080:80"]',
    '["1.2.3:8080:80"]', '[{ container = 80, ip = "[::1]" }]',
    '[{ container = 80, ip = "127.1" }]', '[{ container = 80, ip = "" }]'])
def test_invalid_addresses_fail_with_a_hint(tmp_path: Path, ports: str) -> None:
    specs_text = _load(tmp_path, f"ports = {ports}")
    assert isinstance(specs_text, str)
    assert "invalid ip address" in specs_text and " — " in specs_text


def test_hostname_up_to_the_kernel_limit(tmp_path: Path) -> None:
    assert isinstance(_load(tmp_path, f'hostname = "{"h" * 64}"'), Container)
    assert "invalid hostname" in str(_load(tmp_path, f'hostname = "{"h" * 65}"'))
    assert "invalid hostname" in str(_load(tmp_path, 'hostname = "two words"'))


def test_two_character_names_pass_one_character_names_fail(tmp_path: Path) -> None:
    assert isinstance(_load(tmp_path, "", name="ab"), Container)
    assert "at least 2 characters" in str(_load(tmp_path, "", name="a"))
    assert "at least 2 characters" in str(_load(tmp_path, 'volumes = ["v:/data"]'))


@pytest.mark.parametrize(("key", "hint"), [
    ("devices", "is not supported yet"), ("dns", "is not supported yet"),
    ("enviroment", "did you mean 'env'?"), ("restrat", "did you mean 'restart'?"),
    ("zzz", "known keys:")])
def test_unknown_keys_suggest_only_close_matches(tmp_path: Path, key: str, hint: str) -> None:
    text = str(_load(tmp_path, f"{key} = 1"))
    assert hint in text
    assert "depends_on" not in text.split(" — ")[-1] or hint == "known keys:"


def test_the_hint_of_a_checker_is_apart_in_json(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('[container.web]\nimage = "busybox"\n'
                                     'ports = ["127.0.0.256:80:80"]\n')
    [error] = load_dir(tmp_path, environ={}).all_errors()
    assert error.message == ("invalid ip address '127.0.0.256': Docker would publish the port "
                             "on every address instead")
    assert error.hint is not None and error.hint.startswith("an IPv4 address is four numbers")
