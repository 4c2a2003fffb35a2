"""Names of runtime objects: project, container instances, networks.

Role: the one place that knows how declared names map onto runtime names
(principle 4: a container carries exactly its declared name, replicas are
NAME-1..NAME-N; the project network is ``<project>_default``) and the extra
label keys the controller adds besides ``runtime.types.LABEL_*``.
Neighbours: used by ``controller.desired.state`` (building configs),
``controller.planning.observe`` (recognising owned objects) and the commands.
"""

from __future__ import annotations

import re
from pathlib import Path

from specs.result import SpecSet

LABEL_FILES = "io.dockwright.files"  # digests of files the spec refers to (env_file, secrets, ...)
# host-level settings the spec set where the daemon fills in its own otherwise ("ipc_mode",
# "shm_size", "log_options.KEY"; comma-separated): what was asked is told from a default
LABEL_ASKED = "io.dockwright.asked"
LABEL_CONTEXT_DIGEST = "io.dockwright.context-digest"  # on built images: content digest
LABEL_BUILT_FOR = "io.dockwright.built-for"  # on built images: the project (not ownership)
OLD_SUFFIX = "_dw-old"  # a container renamed out of the way during a safe recreate


def sanitise_project(name: str) -> str:
    """Lowercase ``[a-z0-9_-]``, starting with a letter or digit (compose's rule)."""
    text = re.sub(r"[^a-z0-9_-]+", "", name.lower())
    text = text.lstrip("_-")
    return text or "default"


def project_name(root: Path, specs: SpecSet | None = None, override: str | None = None) -> str:
    """``--project``, else ``[project].name``, else the spec folder's name."""
    if override:
        return sanitise_project(override)
    if specs is not None and specs.project is not None and specs.project.name:
        return specs.project.name
    return sanitise_project(root.resolve().name)


def default_network(project: str) -> str:
    return f"{project}_default"


def instance_names(name: str, replicas: int, container_name: str | None = None) -> list[str]:
    """``web`` -> ``["web"]``; with 3 replicas ``["web-1", "web-2", "web-3"]``. A
    ``container_name`` replaces the name; its ``{n}`` is the replica number
    (``app_web_{n}`` -> ``app_web_1``..., docker-compose's names)."""
    if container_name:
        return [container_name.replace("{n}", str(i)) for i in range(1, replicas + 1)]
    if replicas == 1:
        return [name]
    return [f"{name}-{i}" for i in range(1, replicas + 1)]


def image_tag(project: str, name: str) -> str:
    """Tag of an image built from a context when the spec gives no ref."""
    return f"{project}/{name}:dockwright"
