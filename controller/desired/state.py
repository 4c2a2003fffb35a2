"""Desired state: a recipe realised against the host, with ownership labels and hashes.

Role: the second half of "validated model -> desired state" (DESIGN.md).
:func:`realise` turns a :class:`~controller.desired.recipe.Recipe` (the pure result of
the spec files, ``controller.desired.normalise``) into one ``ContainerConfig`` per
replica: env steps read (secret files, host variables, env_files), secrets and
configs placed (``controller.desired.files``), digests of referenced files and
build contexts taken, ownership labels added, and two
hashes (``controller.desired.hashing``, canonical form, scheme recorded in a
label): ``base_hash`` over everything that needs a recreate (plus digests of
referenced files and the image source; secrets keyed, never plain) and
``update_hash`` over what can change in place (restart, resources, networks
and their aliases). The image id joins the hash only when known
(:meth:`DesiredContainer.hash_for`). Imports no pydantic.
Neighbours: ``controller.desired.recipe`` / ``controller.desired.normalise`` before it;
``controller.planning.observe`` / ``controller.planning.plan`` after; names from
``controller.desired.naming``.
Pure apart from reading the files and variables the specs refer to.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from controller.desired import naming
from controller.desired.files import place
from controller.desired.hashing import (
    HASH_SCHEME,
    LABEL_HASH_SCHEME,
    file_digest,
    tree_digest,
    value_digest,
)
from controller.desired.hostkey import keyed_digest
from controller.desired.recipe import ContainerRecipe, DesiredImage, Recipe
from runtime.types import (
    LABEL_HASH,
    LABEL_MANAGED_BY,
    LABEL_PROJECT,
    LABEL_REPLICA,
    LABEL_RESOURCE,
    LABEL_REVISION,
    LABEL_SOURCE,
    LABEL_UPDATE_HASH,
    MANAGED_BY,
    ContainerConfig,
    NetworkAttach,
    NetworkConfig,
    Pairs,
    ResourceSpec,
    RestartSpec,
    VolumeConfig,
    pairs,
)
from specs.confine import Bounds, read_confined

__all__ = ["DesiredContainer", "DesiredImage", "DesiredNetwork", "DesiredState",
           "DesiredVolume", "realise"]

_Object = TypeVar("_Object", VolumeConfig, NetworkConfig)

# labels that describe where a spec came from, not what it is, or that the hashed fields
# determine (naming.LABEL_ASKED): never part of a hash
VOLATILE_LABELS = frozenset({LABEL_HASH, LABEL_UPDATE_HASH, LABEL_HASH_SCHEME, LABEL_REVISION,
                             LABEL_SOURCE, naming.LABEL_ASKED})


@dataclass(frozen=True)
class DesiredContainer:
    """One container instance (one replica) as it should run."""

    resource: str
    name: str
    replica: int
    file: str
    config: ContainerConfig  # ownership labels included, hash labels not yet
    image: DesiredImage
    state: str = "running"  # running | stopped | absent
    depends_on: tuple[tuple[str, str], ...] = ()  # (resource, started|healthy|completed)
    links: tuple[str, ...] = ()  # linked resources
    volumes_from: tuple[str, ...] = ()  # resources whose volumes this one mounts
    secret_keys: frozenset[str] = frozenset()
    files: Pairs = ()  # (what, digest) of files the spec refers to; secrets' digests keyed
    plain_files: Pairs = ()  # (what, unkeyed digest) of secret and env files: never a label,
    #                          only to recognise labels written before digests were keyed
    update_order: str = "stop-first"  # | "start-first": how a recreate replaces it
    # the content of each secret and config copy (``config.files``' sources): written by
    # ``controller.execution.copies`` before a create; never shown
    file_contents: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    placed_from: tuple[str, ...] = ()  # the spec's files of its secrets and configs
    base_hash: str = ""
    update_hash: str = ""

    @property
    def requires(self) -> tuple[str, ...]:
        """Resources this container must follow (created after, recreated with)."""
        seen = dict.fromkeys([*(r for r, _ in self.depends_on), *self.links, *self.volumes_from])
        return tuple(r for r in seen if r != self.resource)

    def hash_for(self, image_id: str | None) -> str:
        """The spec hash label; an archive without a ref is identified by its digest alone."""
        if self.image.source == "archive" and not self.image.ref:
            image_id = None
        return value_digest({"spec": self.base_hash, "image_id": image_id})

    def with_aliases(self, extra: Mapping[str, set[str]]) -> DesiredContainer:
        """This container with more network aliases (kept for links of frozen files)."""
        nets = tuple(NetworkAttach(n.network, tuple(sorted(set(n.aliases) | extra.get(
            n.network, set())))) for n in self.config.networks)
        config = dataclasses.replace(self.config, networks=nets)
        return dataclasses.replace(self, config=config, update_hash=update_hash(config))

    def final_config(self, image_id: str | None) -> ContainerConfig:
        """The config to create: ownership labels plus both hash labels."""
        labels = dict(self.config.labels)
        labels[LABEL_HASH] = self.hash_for(image_id)
        labels[LABEL_UPDATE_HASH] = self.update_hash
        labels[LABEL_HASH_SCHEME] = HASH_SCHEME
        return dataclasses.replace(self.config, labels=pairs(labels))


@dataclass(frozen=True)
class DesiredVolume:
    """A named volume as it should exist."""

    name: str
    file: str
    config: VolumeConfig
    external: bool = False


@dataclass(frozen=True)
class DesiredNetwork:
    """A network as it should exist."""

    name: str
    file: str
    config: NetworkConfig
    external: bool = False


@dataclass(frozen=True)
class DesiredState:
    """Everything one pass should make true, plus what it must not touch."""

    project: str
    revision: str | None
    containers: tuple[DesiredContainer, ...] = ()
    volumes: tuple[DesiredVolume, ...] = ()
    networks: tuple[DesiredNetwork, ...] = ()
    frozen: frozenset[tuple[str, str]] = frozenset()  # (kind, name) of invalid files
    invalid_files: frozenset[str] = frozenset()
    errors: tuple[tuple[str, str], ...] = ()  # (resource, message): held, not converged
    conditions: Mapping[str, frozenset[str]] = field(default_factory=dict)  # resource -> asked

    def images(self) -> dict[str, DesiredImage]:
        return {c.image.key: c.image for c in self.containers}

    def by_resource(self) -> dict[str, list[DesiredContainer]]:
        out: dict[str, list[DesiredContainer]] = {}
        for c in self.containers:
            out.setdefault(c.resource, []).append(c)
        return out


def update_hash(config: ContainerConfig) -> str:
    """Hash of what changes in place: restart, resources, networks and their aliases."""
    nets = sorted(config.networks, key=lambda n: n.network)
    return value_digest({"restart": config.restart, "resources": config.resources,
                         "networks": {n.network: sorted(n.aliases) for n in nets}})


def base_hash(config: ContainerConfig, image: DesiredImage, files: Mapping[str, str],
              secret_keys: frozenset[str] = frozenset()) -> str:
    """Hash of everything that needs a recreate: config (minus in-place and volatile parts),
    the image source and the digests of referenced files. Secret env values enter keyed
    (``controller.desired.hostkey``): the label is no guessing oracle."""
    env = tuple((k, keyed_digest(v.encode()) if k in secret_keys else v) for k, v in config.env)
    hashed = dataclasses.replace(
        config, env=env, restart=RestartSpec(), resources=ResourceSpec(), networks=(),
        labels=tuple(kv for kv in config.labels if kv[0] not in VOLATILE_LABELS),
        # a secret's or config's copy is found by its digest: where the state folder is
        # changes nothing
        files=tuple(dataclasses.replace(f, source="") for f in config.files))
    # the pull policy says when to fetch, not what runs: changing it recreates nothing
    return value_digest({"config": hashed, "image": dataclasses.replace(image, pull=""),
                         "files": dict(files)})


class DesiredError(Exception):
    """A resource whose inputs (secret file, host variable) cannot be read."""


def _read(path: Path, what: str, bounds: Bounds | None) -> str:
    """A file the spec refers to; within ``bounds`` (checked on the file opened) if given."""
    return _read_bytes(path, what, bounds).decode()


def _read_bytes(path: Path, what: str, bounds: Bounds | None) -> bytes:
    try:
        return read_confined(str(path), bounds) if bounds is not None else path.read_bytes()
    except PermissionError as exc:
        raise DesiredError(f"cannot read {what} {exc}") from exc
    except OSError as exc:
        raise DesiredError(f"cannot read {what} {path}: {exc.strerror}") from exc


def parse_env_file(path: Path, environ: Mapping[str, str],
                   bounds: Bounds | None = None) -> dict[str, str]:
    """``KEY=VALUE`` lines (compose's env_file); ``#`` comments, ``export``, quotes."""
    text = _read(path, "env_file", bounds)
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[7:].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep:
            if key in environ:
                out[key] = environ[key]
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key] = value
    return out


def _read_secret(path: Path, bounds: Bounds | None) -> str:
    text = _read(path, "secret file", bounds)
    return text[:-1] if text.endswith("\n") else text


class _Realiser:
    def __init__(self, recipe: Recipe, revision: str | None,
                 environ: Mapping[str, str], runtime: str) -> None:
        self.recipe, self.revision, self.environ = recipe, revision, environ
        self.runtime = runtime
        self.root = Path(recipe.root)
        self.bounds = Bounds.from_kind(recipe.bounds)

    def rel(self, path: str) -> str:
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return path

    def owner_labels(self, resource: str, file: str) -> dict[str, str]:
        labels = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_PROJECT: self.recipe.project,
                  LABEL_RESOURCE: resource, LABEL_SOURCE: file}
        if self.revision:
            labels[LABEL_REVISION] = self.revision
        return labels

    @staticmethod
    def digest(files: dict[str, str], plain: dict[str, str], what: str, path: str) -> None:
        """A secret or env file's digest: keyed for labels and hashes, plain kept aside."""
        plain[what] = file_digest(Path(path))
        files[what] = keyed_digest(plain[what].encode())

    def env(self, c: ContainerRecipe
            ) -> tuple[dict[str, str], set[str], dict[str, str], dict[str, str]]:
        env: dict[str, str] = {}
        secrets: set[str] = set()
        files: dict[str, str] = {}
        plain: dict[str, str] = {}
        for step in c.env:
            if step.kind == "env_file":
                loaded = parse_env_file(Path(step.value), self.environ, self.bounds)
                env.update(loaded)
                secrets |= set(loaded)
                self.digest(files, plain, f"env_file:{self.rel(step.value)}", step.value)
                continue
            secrets.discard(step.key)
            if step.kind == "secret":
                env[step.key] = _read_secret(Path(step.value), self.bounds)
                secrets.add(step.key)
                self.digest(files, plain, f"secret:{self.rel(step.value)}", step.value)
            elif step.kind == "host":
                if step.value not in self.environ:
                    raise DesiredError(
                        f"env.{step.key} needs the host variable {step.value}, which is not "
                        f"set (export {step.value}=... before running dockwright)")
                env[step.key] = self.environ[step.value]
                secrets.add(step.key)
            else:
                env[step.key] = step.value
        return env, secrets, files, plain

    def container(self, c: ContainerRecipe) -> list[DesiredContainer]:
        image = c.image
        for source in (image.context, image.archive):
            if source and self.bounds is not None and not self.bounds.inside(source):
                raise DesiredError(f"{source} leads to {os.path.realpath(source)}, outside "
                                   f"{self.bounds.where} (add its folder to [project] "
                                   "allow_host_paths to allow it)")
        if image.source == "build" and image.context:
            image = dataclasses.replace(image, digest=tree_digest(Path(image.context),
                                                                     image.dockerfile))
        elif image.source == "archive" and image.archive:
            image = dataclasses.replace(image, digest=file_digest(Path(image.archive)))
        env, secrets, files, plain = self.env(c)
        if image.digest:
            files[f"{image.source}:{self.rel(image.context or image.archive or '')}"] = \
                image.digest
        placed = place(c.files, self.runtime, self.recipe.project,
                             lambda path, what: _read_bytes(Path(path), what, self.bounds))
        base = dataclasses.replace(c.config, env=pairs(env), files=placed.mounts)
        out = []
        for index, name in enumerate(c.names, start=1):
            labels = {**dict(c.config.labels), **self.owner_labels(c.resource, c.file),
                      LABEL_REPLICA: str(index)}
            if files:
                labels[naming.LABEL_FILES] = json.dumps(files, sort_keys=True,
                                                        separators=(",", ":"))
            config = dataclasses.replace(base, name=name, labels=pairs(labels))
            out.append(DesiredContainer(
                resource=c.resource, name=name, replica=index, file=c.file, config=config,
                image=image, state=c.state, depends_on=c.depends_on, links=c.links,
                volumes_from=c.volumes_from, secret_keys=frozenset(secrets),
                files=pairs(files), plain_files=pairs(plain), update_order=c.update_order,
                file_contents=placed.contents, placed_from=tuple(f.path for f in c.files),
                base_hash=base_hash(config, self.hashed_image(image), files,
                                    frozenset(secrets)),
                update_hash=update_hash(config)))
        return out

    def hashed_image(self, image: DesiredImage) -> DesiredImage:
        """The image source as hashed: paths relative to the spec folder (moving the folder
        changes no hash)."""
        return dataclasses.replace(
            image, context=self.rel(image.context) if image.context else None,
            archive=self.rel(image.archive) if image.archive else None)

    def with_owner(self, config: _Object, file: str) -> _Object:
        labels = {**dict(config.labels), **self.owner_labels(config.name, file)}
        return dataclasses.replace(config, labels=pairs(labels))


def realise(recipe: Recipe, revision: str | None = None,
            environ: Mapping[str, str] | None = None, runtime: str = "docker") -> DesiredState:
    """The desired state of a recipe on this host: files and variables read, hashed;
    ``runtime``: the one it is for (where secret and config copies go)."""
    r = _Realiser(recipe, revision, os.environ if environ is None else environ, runtime)
    containers: list[DesiredContainer] = []
    errors: list[tuple[str, str]] = []
    for c in recipe.containers:
        try:
            containers.extend(r.container(c))
        except DesiredError as exc:
            errors.append((c.resource, f"{c.file}: container.{c.resource}: {exc}"))
    volumes = []
    for v in recipe.volumes:
        assert isinstance(v.config, VolumeConfig)
        volumes.append(DesiredVolume(v.name, v.file, r.with_owner(v.config, v.file), v.external))
    networks = []
    for n in recipe.networks:
        assert isinstance(n.config, NetworkConfig)
        networks.append(DesiredNetwork(n.name, n.file, r.with_owner(n.config, n.file),
                                       n.external))
    default = naming.default_network(recipe.project)
    if default not in {n.name for n in networks} and any(
            default in {a.network for a in c.config.networks} for c in containers):
        networks.append(DesiredNetwork(default, "", NetworkConfig(
            default, labels=pairs(r.owner_labels(default, "")))))
    return DesiredState(
        project=recipe.project, revision=revision, containers=tuple(containers),
        volumes=tuple(volumes), networks=tuple(networks), frozen=recipe.frozen,
        invalid_files=recipe.invalid_files, errors=tuple(errors),
        conditions=dict(recipe.conditions))
