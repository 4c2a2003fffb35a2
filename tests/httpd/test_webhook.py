"""The webhook secret and the check of signed calls, on real files and the real server.

GitHub's documented test vector, a wrong secret, a changed body, GitLab's token, a
call with no signature; the secret file (stripped; empty, missing and a directory are
errors; readable by others is a warning); ``POST /hooks/git`` on the real server with a
secret: 401 with a JSON error for unsigned or badly signed calls (logged once per
client address, never with the secret), 202 for signed ones, and a stranger learns
nothing else (no 404 about the git source before the signature).
Neighbours: ``controller.service.webhook``, ``controller.service.httpd``; the whole
flow with a real git repository is ``tests/watch/test_webhook.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import structlog

from controller.errors import ControllerError
from controller.service.gitsource import GitSource
from controller.service.httpd import StatusServer
from controller.service.httpwire import Headers
from controller.service.webhook import load_secret, verify
from tests.conftest import wait_for
from tests.httpd.wire import request

Start = Callable[..., StatusServer]
# https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
GITHUB_SECRET = b"It's a Secret to Everybody"
GITHUB_BODY = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def test_github_and_gitlab_signatures() -> None:
    ok = verify(GITHUB_SECRET, Headers([("X-Hub-Signature-256", GITHUB_SIGNATURE)]),
                GITHUB_BODY)
    assert ok.ok and ok.scheme == "github"
    upper = GITHUB_SIGNATURE.upper().replace("SHA256=", "sha256=")
    assert verify(GITHUB_SECRET, Headers([("x-hub-signature-256", upper)]), GITHUB_BODY).ok
    for headers, body in (
            ([("X-Hub-Signature-256", GITHUB_SIGNATURE)], b"Hello, World?"),
            ([("X-Hub-Signature-256", sign(b"other", GITHUB_BODY))], GITHUB_BODY),
            ([("X-Hub-Signature-256", GITHUB_SIGNATURE.replace("sha256", "sha1"))],
             GITHUB_BODY),
            ([("X-Hub-Signature-256", "sha256=")], GITHUB_BODY),
            ([("X-Gitlab-Token", "It's a Secret")], GITHUB_BODY),
            ([("X-Gitlab-Token", "")], GITHUB_BODY),
            ([], GITHUB_BODY)):
        verdict = verify(GITHUB_SECRET, Headers(headers), body)
        assert not verdict.ok and verdict.reason, headers
        assert "Secret to Everybody" not in verdict.reason
    token = verify(GITHUB_SECRET, Headers([("X-Gitlab-Token", GITHUB_SECRET.decode())]), b"")
    assert token.ok and token.scheme == "gitlab"


def test_the_secret_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("  s3cret\n")
    path.chmod(0o600)
    with structlog.testing.capture_logs() as logs:
        assert load_secret(path) == b"s3cret"
    assert not logs
    path.chmod(0o644)
    with structlog.testing.capture_logs() as logs:
        assert load_secret(path) == b"s3cret"
    assert [e["event"] for e in logs] == ["webhook_secret_readable"]
    assert f"chmod 600 {path}" in logs[0]["hint"] and "s3cret" not in json.dumps(logs)
    (tmp_path / "empty").write_text(" \n")
    for bad, words in ((tmp_path / "empty", "is empty"), (tmp_path / "missing", "cannot read"),
                       (tmp_path, "cannot read")):
        with pytest.raises(ControllerError, match=words) as caught:
            load_secret(bad)
        assert caught.value.hint


def test_the_endpoint_takes_only_signed_calls(
        endpoint: Start, git_source: tuple[GitSource, list[str]]) -> None:
    git, enqueued = git_source
    server = endpoint(secret=b"topsecret", git=git)
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    with structlog.testing.capture_logs() as logs:
        unsigned = request(server.address, "POST", "/hooks/git", body=body)
        bad = request(server.address, "POST", "/hooks/git", body=body,
                      headers={"X-Hub-Signature-256": sign(b"wrong", body)})
        token = request(server.address, "POST", "/hooks/git", body=body,
                        headers={"X-Gitlab-Token": "wrong"})
    for answer in (unsigned, bad, token):
        assert answer.status == 401 and answer.headers["content-type"] == "application/json"
        assert answer.json()["error"]
    assert git.hooks == 0
    rejected = [e for e in logs if e["event"] == "webhook_rejected"]
    assert len(rejected) == 1 and rejected[0]["client"] == "127.0.0.1"
    assert "topsecret" not in json.dumps(logs) and sign(b"wrong", body) not in json.dumps(logs)

    signed = request(server.address, "POST", "/hooks/git", body=body,
                     headers={"X-Hub-Signature-256": sign(b"topsecret", body),
                              "X-GitHub-Event": "push"})
    assert signed.status == 202 and signed.json()["accepted"] is True
    gitlab = request(server.address, "POST", "/hooks/git", body=body,
                     headers={"X-Gitlab-Token": "topsecret"})
    assert gitlab.status == 202 and git.hooks == 2
    ping = request(server.address, "POST", "/hooks/git", body=b"{}",
                   headers={"X-Hub-Signature-256": sign(b"topsecret", b"{}"),
                            "X-GitHub-Event": "ping"})
    assert ping.status == 200 and git.hooks == 2
    wait_for(lambda: "webhook" in enqueued, "a pass asked for by the webhook")
    assert set(enqueued) == {"git", "webhook"}
    metrics = request(server.address, "GET", "/metrics").body.decode()
    assert 'dockwright_errors_total{kind="webhook_rejected"} 3.0' in metrics
    status = server.status()[1]["webhook"]
    assert status["signed"] is True and status["rejected"] == 3
    assert status["last_rejected"]["scheme"] == "gitlab"


def test_a_stranger_learns_nothing_before_the_signature(endpoint: Start) -> None:
    server = endpoint(secret=b"topsecret")  # no git source
    assert request(server.address, "POST", "/hooks/git").status == 401
    signed = request(server.address, "POST", "/hooks/git", body=b"x",
                     headers={"X-Hub-Signature-256": sign(b"topsecret", b"x")})
    assert signed.status == 404 and "--git" in signed.json()["error"]


def test_no_secret_on_loopback_takes_unsigned_calls(
        endpoint: Start, git_source: tuple[GitSource, list[str]]) -> None:
    git, _ = git_source
    server = endpoint(git=git)
    assert request(server.address, "POST", "/hooks/git").status == 202
    assert git.hooks == 1
