"""The dashboard's Jinja2 environment: templates as package data, autoescape on.

Role: loads the templates under ``templates/`` (``PackageLoader``), with
autoescaping for every template (every value a page shows is HTML-escaped;
nothing is marked safe but the two static assets below) and ``StrictUndefined`` (a
misspelt field fails the render instead of showing nothing). :func:`render` gives a
whole page, or only its ``live`` block (the fragment the inline script swaps in
after a Server-Sent Event). The stylesheet and the script are inlined from
``templates/dashboard.css`` and ``templates/dashboard.js``; :data:`CSP` allows
exactly those two (by their SHA-256) and connections to this server: no external
asset can load. Neighbours: ``controller.service.dashboard.routes`` (the caller).
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined


def _asset(name: str) -> str:
    return (files("controller.service.dashboard") / "templates" / name).read_text("utf-8")


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CSS = _asset("dashboard.css")
JS = _asset("dashboard.js")
CSP = (f"default-src 'none'; style-src {_sha(CSS)}; script-src {_sha(JS)}; "
       "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")


def segment(value: object) -> str:
    """A value as one URL path segment (``/`` included in the escaping)."""
    return quote(str(value), safe="")


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


@cache
def environment() -> Environment:
    env = Environment(loader=PackageLoader("controller.service.dashboard", "templates"),
                      autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["seg"] = segment
    env.filters["secs"] = seconds
    env.globals["css"] = CSS
    env.globals["js"] = JS
    return env


def render(name: str, *, fragment: bool = False, **context: Any) -> str:
    """The page ``name`` (``overview.html`` ...), or only its ``live`` block."""
    template = environment().get_template(name)
    if not fragment:
        return template.render(**context)
    block = template.blocks["live"]
    return "".join(block(template.new_context(context)))
