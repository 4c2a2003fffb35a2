"""Signed webhook calls: the secret, the check of GitHub's and GitLab's signatures.

Role: ``watch --webhook-secret-file FILE`` reads the secret once
(:func:`load_secret`: stripped; an empty or unreadable file is an error that says the
fix; a file other users may read is accepted with a warning that says ``chmod 600``).
:func:`verify` accepts a call signed the GitHub way (``X-Hub-Signature-256:
sha256=<hex HMAC-SHA256 of the raw body>``) or the GitLab way (``X-Gitlab-Token: <the
secret>``), compared in constant time (``hmac.compare_digest``); anything else is
refused with the reason. :class:`Rejections` logs a refused call once per client
address (later ones from the same address are counted, not logged; the endpoint
journals that first one too) and never logs the secret or the signature sent.
Neighbours: ``controller.service.httpd`` (``POST /hooks/git`` calls :func:`verify`),
``controller.commands.watch`` (loads the secret).
"""

from __future__ import annotations

import hashlib
import hmac
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from controller.errors import ControllerError
from controller.service.httpwire import Headers

log = structlog.get_logger("dockwright.watch")
GITHUB_HEADER = "X-Hub-Signature-256"
GITLAB_HEADER = "X-Gitlab-Token"
MAX_LOGGED_SOURCES = 1024


def load_secret(path: Path) -> bytes:
    """The secret in ``path`` (surrounding whitespace stripped). Raises ControllerError."""
    try:
        mode = path.stat().st_mode
        text = path.read_bytes().strip()
    except OSError as exc:
        raise ControllerError(f"cannot read the webhook secret file {str(path)!r}: "
                              f"{exc.strerror or exc}",
                              hint="give a readable file that holds the secret "
                                   "(--webhook-secret-file)") from exc
    if not stat.S_ISREG(mode):
        raise ControllerError(f"the webhook secret file {str(path)!r} is not a regular file",
                              hint="give a file that holds the secret")
    if not text:
        raise ControllerError(f"the webhook secret file {str(path)!r} is empty",
                              hint="write the secret configured in the git host's webhook "
                                   "into it")
    if mode & stat.S_IROTH:
        log.warning("webhook_secret_readable", path=str(path),
                    hint=f"every user of this host can read the secret: chmod 600 {path}")
    return text


@dataclass(frozen=True)
class Verdict:
    """The check of one call: ``scheme`` is ``github``, ``gitlab`` or ``none``."""

    ok: bool
    scheme: str
    reason: str = ""


def _same(a: bytes, b: bytes) -> bool:
    """Constant-time equality that does not leak the length either."""
    return hmac.compare_digest(hashlib.sha256(a).digest(), hashlib.sha256(b).digest())


def verify(secret: bytes, headers: Headers, body: bytes) -> Verdict:
    """Is this call signed with ``secret``? GitHub's signature first, then GitLab's token."""
    signature = headers.get(GITHUB_HEADER)
    if signature is not None:
        algorithm, _, given = signature.partition("=")
        if algorithm != "sha256" or not given:
            return Verdict(False, "github", f"{GITHUB_HEADER} must be sha256=<hex digest>")
        expected = hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
        if not _same(expected, given.strip().lower().encode("latin-1")):
            return Verdict(False, "github", f"{GITHUB_HEADER} does not match the body: "
                                            "the secrets differ or the body was changed")
        return Verdict(True, "github")
    token = headers.get(GITLAB_HEADER)
    if token is not None:
        if not _same(secret, token.encode("latin-1")):
            return Verdict(False, "gitlab", f"{GITLAB_HEADER} is not the configured secret")
        return Verdict(True, "gitlab")
    return Verdict(False, "none", f"unsigned call: send {GITHUB_HEADER} (GitHub) or "
                                  f"{GITLAB_HEADER} (GitLab) made with the webhook secret")


class Rejections:
    """Refused calls: logged once per client address, all counted (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logged: set[str] = set()
        self.count = 0
        self.last: dict[str, Any] | None = None

    def note(self, client: str, verdict: Verdict, project: str) -> bool:
        """Count a refused call; True for the first one from ``client`` (it is logged)."""
        with self._lock:
            self.count += 1
            self.last = {"client": client, "scheme": verdict.scheme, "reason": verdict.reason}
            first = client not in self._logged and len(self._logged) < MAX_LOGGED_SOURCES
            if first:
                self._logged.add(client)
        if first:
            log.warning("webhook_rejected", project=project, client=client,
                        scheme=verdict.scheme, reason=verdict.reason,
                        hint="further refused calls from this address are only counted "
                             "(/status: webhook.rejected)")
        return first

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {"rejected": self.count, "last_rejected": self.last}
