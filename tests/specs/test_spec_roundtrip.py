"""Property: models -> ``tests.specs.dump`` TOML -> ``load_dir`` gives equal models."""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specs.loader import load_dir
from specs.models import (
    Container,
    EnvFromFile,
    EnvFromHost,
    Healthcheck,
    ImageSpec,
    Link,
    Model,
    Mount,
    Network,
    NetworkAttachment,
    Port,
    Project,
    ProjectDefaults,
    Resources,
    RestartPolicy,
    Volume,
    VolumesFrom,
)
from specs.schema import build_schema
from tests.specs.dump import dumps
from tests.specs.schema_check import check

SCHEMA = build_schema()

text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
               max_size=12)
names = st.from_regex(r"[a-z0-9][a-z0-9_.-]{1,10}", fullmatch=True)
paths = st.lists(st.from_regex(r"[A-Za-z0-9_. -]{1,8}", fullmatch=True), min_size=1,
                 max_size=3).map(lambda parts: "/" + "/".join(parts))
env_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,8}", fullmatch=True)
seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
labels = st.dictionaries(text.filter(bool), text, max_size=3)
refs = st.from_regex(r"[a-z0-9]{1,6}(/[a-z0-9]{1,6})?(:[a-z0-9][a-z0-9.-]{0,6})?", fullmatch=True)

images = st.one_of(
    st.builds(ImageSpec, ref=refs, pull=st.sampled_from(["missing", "always", "never"])),
    st.builds(ImageSpec, ref=st.none() | refs, build=paths, dockerfile=st.none() | names,
              args=st.dictionaries(env_names, text, max_size=2)),
    st.builds(ImageSpec, ref=st.none() | refs, archive=paths),
)
ports = st.builds(Port, container=st.integers(1, 65535), host=st.none() | st.integers(1, 65535),
                  ip=st.none() | st.sampled_from(["127.0.0.1", "::1", "0.0.0.0"]),
                  protocol=st.sampled_from(["tcp", "udp", "sctp"]))
mounts = st.one_of(
    st.builds(Mount, type=st.just("volume"), source=st.none() | names, target=paths,
              read_only=st.booleans()),
    st.builds(Mount, type=st.just("bind"), source=paths, target=paths, read_only=st.booleans()),
    st.builds(Mount, type=st.just("tmpfs"), target=paths,
              size=st.none() | st.integers(0, 2**40)),
)
restarts = st.builds(RestartPolicy, name=st.sampled_from(["no", "always", "on-failure",
                                                          "unless-stopped"]),
                     max_retries=st.integers(0, 10))
healthchecks = st.builds(
    Healthcheck,
    test=st.one_of(st.lists(text, min_size=1, max_size=3).map(lambda t: ("CMD", *t)),
                   text.map(lambda t: ("CMD-SHELL", t)), st.just(("NONE",))),
    interval=st.none() | seconds, timeout=st.none() | seconds,
    retries=st.none() | st.integers(0, 10), start_period=st.none() | seconds)
resources = st.builds(Resources, memory=st.none() | st.integers(0, 2**40),
                      cpus=st.none() | st.floats(0.01, 64),
                      pids=st.none() | st.integers(1, 10**6))
containers = st.builds(
    Container,
    image=images,
    command=st.none() | st.lists(text, max_size=3).map(tuple),
    entrypoint=st.none() | st.lists(text, max_size=2).map(tuple),
    workdir=st.none() | paths, user=st.none() | text, hostname=st.none() | names,
    labels=labels, stdin_open=st.booleans(), tty=st.booleans(),
    env=st.dictionaries(env_names, st.one_of(text, st.builds(EnvFromFile, file=paths),
                                             st.builds(EnvFromHost, env=env_names)), max_size=3),
    env_file=st.lists(paths, max_size=2).map(tuple),
    ports=st.lists(ports, max_size=3).map(tuple),
    volumes=st.lists(mounts, max_size=3).map(tuple),
    volumes_from=st.lists(st.builds(VolumesFrom, container=names, read_only=st.booleans()),
                          max_size=2).map(tuple),
    links=st.lists(st.builds(Link, target=names, alias=names), max_size=2).map(tuple),
    networks=st.dictionaries(names, st.builds(NetworkAttachment, aliases=st.lists(
        names, max_size=2).map(tuple)), max_size=2),
    restart=st.none() | restarts, healthcheck=st.none() | healthchecks,
    depends_on=st.dictionaries(names, st.sampled_from(["started", "healthy", "completed"]),
                               max_size=2),
    resources=resources,
    stop_signal=st.none() | st.sampled_from(["SIGTERM", "SIGINT", "SIGRTMIN+3", "9"]),
    stop_timeout=st.none() | seconds, replicas=st.integers(0, 5),
    state=st.sampled_from(["running", "stopped", "absent"]),
)
volumes = st.builds(Volume, driver=names, driver_opts=st.dictionaries(names, text, max_size=2),
                    labels=labels, external=st.booleans())
networks = st.builds(Network, driver=names, internal=st.booleans(),
                     subnet=st.none() | st.just("10.1.0.0/16"), labels=labels,
                     external=st.booleans())
projects = st.builds(Project, name=st.none() | st.from_regex(r"[a-z0-9][a-z0-9_-]{0,8}",
                                                             fullmatch=True),
                     defaults=st.builds(ProjectDefaults, restart=st.none() | restarts,
                                        pull=st.none() | st.sampled_from(["missing", "never"]),
                                        stop_timeout=st.none() | seconds, labels=labels,
                                        resources=st.none() | resources))
resource_sets = st.dictionaries(
    st.tuples(st.sampled_from(["container", "volume", "network"]), names),
    st.just(None), min_size=1, max_size=6,
).flatmap(lambda keys: st.tuples(*[
    st.tuples(st.just(kind), st.just(name),
              containers if kind == "container" else volumes if kind == "volume" else networks,
              st.integers(0, 2))
    for kind, name in keys]))


@settings(max_examples=int(os.environ.get("DW_FUZZ_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(resource_sets, st.none() | projects)
def test_dump_then_load_gives_equal_models(
        items: tuple[tuple[str, str, Model, int], ...], project: Project | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for index in range(3):
            chosen = [(kind, name, spec) for kind, name, spec, where in items if where == index]
            if chosen or (index == 0 and project is not None):
                text_ = dumps(chosen, project if index == 0 else None)
                assert check(SCHEMA, tomllib.loads(text_)) == []  # editors accept it too
                (root / f"part-{index}.toml").write_text(text_, encoding="utf-8")
        specs = load_dir(root, environ={})
    loaded = {(r.kind, r.name): r.spec for f in specs.files for r in f.resources}
    assert loaded == {(kind, name): spec for kind, name, spec, _ in items}
    per_file = [e for e in specs.all_errors()
                if e.message.startswith(("unknown", "wrong type", "TOML", "invalid", "missing"))]
    assert per_file == []
    if project is not None:
        assert specs.project == project
