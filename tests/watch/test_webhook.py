"""``watch --git --listen --webhook-secret-file``: the signed webhook end to end, and the
refusal to listen on a non-loopback address without a secret.

A real ``dockwright watch`` subprocess follows a real local git repository over a
file:// URL on the real daemon: unsigned and badly signed calls are 401 (logged and
journaled once for the address),
a GitHub-signed call fetches the pushed commit, the container is recreated at it, and
the journal records that pass with the trigger ``webhook``. ``--listen 0.0.0.0:PORT``
without a secret exits 2 and names both fixes; with ``--insecure-listen`` it starts
with a warning; a missing secret file is an error that says the fix.
Neighbours: ``controller.service.webhook``, ``controller.service.httpd``,
``controller.commands.watch``; ``tests/httpd/`` (the server's rules).
"""

from __future__ import annotations

import hashlib
import hmac
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from controller.execution.journal.query import Filter, entries, passes
from runtime.types import LABEL_REVISION
from tests.conftest import wait_for
from tests.integration.conftest import run_cli
from tests.ports import free_port
from tests.watch.helpers import Service, container_toml, get
from tests.watch.test_git import git

pytestmark = pytest.mark.docker


def post(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/hooks/git", data=body,
                                 headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_signed_webhook_fetches_and_the_journal_says_webhook(
        tmp_path: Path, project_name: str, dclient: Any,
        start_service: Callable[..., Service]) -> None:
    bare, work = tmp_path / "origin.git", tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    web = f"{project_name}-web"
    (work / "deploy").mkdir()
    (work / "deploy" / "web.toml").write_text(container_toml(web, env={"V": "1"}))
    git(work, "add", ".")
    git(work, "commit", "-qm", "v1")
    git(work, "push", "-q", str(bare), "main")
    secret = tmp_path / "hook-secret"
    secret.write_text("s3cret-value\n")
    secret.chmod(0o600)
    state = tmp_path / "state"
    svc = start_service(["--project", project_name, "watch", "--git", f"file://{bare}",
                         "--path", "deploy", "--interval", "1h", "--resync", "0",
                         "--cache-dir", str(tmp_path / "cache"),
                         "--webhook-secret-file", str(secret)],
                        env={"DOCKWRIGHT_STATE_DIR": str(state)})
    svc.wait_ready()
    assert svc.port is not None
    wait_for(lambda: (x := get(dclient, web)) and x.status == "running", "web running")

    (work / "deploy" / "web.toml").write_text(container_toml(web, env={"V": "2"}))
    git(work, "commit", "-qam", "v2")
    git(work, "push", "-q", str(bare), "main")
    rev2 = git(work, "rev-parse", "HEAD")
    body = b'{"ref": "refs/heads/main"}'
    assert post(svc.port, body, {})[0] == 401
    wrong = "sha256=" + hmac.new(b"nope", body, hashlib.sha256).hexdigest()
    code, text = post(svc.port, body, {"X-Hub-Signature-256": wrong})
    assert code == 401 and "does not match" in text
    svc.wait_event("webhook_rejected")
    assert get(dclient, web).labels[LABEL_REVISION] != rev2  # nothing fetched

    good = "sha256=" + hmac.new(b"s3cret-value", body, hashlib.sha256).hexdigest()
    code, text = post(svc.port, body, {"X-Hub-Signature-256": good, "X-GitHub-Event": "push"})
    assert code == 202, text
    wait_for(lambda: (x := get(dclient, web)) and x.labels.get(LABEL_REVISION) == rev2
             and x.status == "running", "web at the pushed revision")
    recorded = wait_for(lambda: [p for p in passes(state / "journal.db",
                                                   Filter(project=project_name))
                                 if p.revision and p.revision.commit == rev2],
                        "the webhook's pass in the journal")
    assert recorded[-1].triggers == ("webhook",) and recorded[-1].changed
    refused = [e for e in entries(state / "journal.db", Filter(project=project_name))
               if e.action == "webhook-rejected"]
    assert len(refused) == 1 and refused[0].name == "127.0.0.1"  # once for this address
    assert refused[0].outcome.value == "refused" and "unsigned" in refused[0].reason
    assert svc.count("webhook_rejected") == 1  # logged once for this address
    everything = svc.output(None)
    assert "s3cret-value" not in everything and wrong not in everything
    hook = svc.json("/status")["webhook"]
    assert hook["signed"] is True and hook["rejected"] == 2
    assert hook["last_rejected"]["client"] == "127.0.0.1"
    assert hook["last_rejected"]["scheme"] == "github"
    assert svc.terminate() == 0


def test_listening_beyond_loopback_needs_a_secret(
        tmp_path: Path, spec_dir: Path, project_name: str,
        start_service: Callable[..., Service]) -> None:
    port = free_port()
    args = ["--project", project_name, "watch", str(spec_dir), "--listen", f"0.0.0.0:{port}"]
    refused = run_cli(args)
    assert refused.code == 2, str(refused)
    assert "--webhook-secret-file" in refused.err and "--insecure-listen" in refused.err
    missing = run_cli([*args, "--webhook-secret-file", str(tmp_path / "nope")])
    assert missing.code == 1 and "cannot read the webhook secret file" in missing.err

    svc = start_service([*args, "--insecure-listen"], listen=False)
    svc.port = port
    svc.wait_ready()
    warned = svc.wait_event("insecure_listen")
    assert "--webhook-secret-file" in warned["hint"]
    assert svc.terminate() == 0
