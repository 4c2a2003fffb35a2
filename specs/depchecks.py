"""Dependency checks of a spec directory: cycles, and dependencies on absent containers.

Role: the checks over the graph of containers that ``links``, ``volumes_from``,
``depends_on`` and ``network_mode``/``pid``/``ipc = "container:NAME"`` draw
(:func:`edges`): a dependency cycle is one error (printed ``a -> b -> a``) at its
first edge; a container that should run cannot depend on one declared
``state = "absent"``. The depth-first search keeps its own stack, so a chain of
any length cannot overflow. Neighbours: ``specs.validate.check`` (the caller, which
collects and locates the errors), ``specs.hostchecks`` (the ``container:NAME``
modes), ``specs.models`` (reads ``Container``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from specs import hostchecks
from specs.hostchecks import Add
from specs.locate import KeyPath, where
from specs.models import Container
from specs.result import Resource


def check(containers: Sequence[Resource], add: Add) -> None:
    """Every cycle, then every dependency on an absent container; ``add(file, key path,
    message, hint)`` receives each error."""
    cycles(containers, add)
    absent_dependencies(containers, add)


def edges(res: Resource) -> Iterator[tuple[str, KeyPath]]:
    """(dependency, key path that declares it) of one container."""
    spec = res.spec
    assert isinstance(spec, Container)
    for i, link in enumerate(spec.links):
        yield link.target, ("links", i)
    for i, source in enumerate(spec.volumes_from):
        yield source.container, ("volumes_from", i)
    for name in spec.depends_on:
        yield name, ("depends_on", name)
    for name, path in hostchecks.mode_edges(spec):  # network_mode/pid/ipc = "container:NAME"
        if name != res.name:  # itself: an error of its own (specs.hostchecks)
            yield name, path


def cycles(containers: Sequence[Resource], add: Add) -> None:
    by_name = {r.name: r for r in containers}
    graph = {r.name: sorted({dep for dep, _ in edges(r) if dep in by_name}) for r in containers}
    seen_cycles: set[tuple[str, ...]] = set()
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    for start in sorted(graph):  # depth-first, with an explicit stack: a chain of any
        if start in state:       # length (thousands of containers) cannot overflow
            continue
        state[start] = 1
        stack: list[str] = [start]
        todo: list[Iterator[str]] = [iter(graph[start])]
        while todo:
            dep = next(todo[-1], None)
            if dep is None:
                state[stack.pop()] = 2
                todo.pop()
            elif state.get(dep) == 1:
                found = stack[stack.index(dep):]
                turn = found.index(min(found))
                seen_cycles.add(tuple(found[turn:] + found[:turn]))
            elif dep not in state:
                state[dep] = 1
                stack.append(dep)
                todo.append(iter(graph[dep]))
    for cycle in sorted(seen_cycles):  # one line per cycle, at its first edge
        text = " -> ".join((*cycle, cycle[0]))
        res = by_name[cycle[0]]
        path = next(p for dep, p in edges(res) if dep == cycle[1 % len(cycle)])
        add(res.file, ("container", cycle[0], *path), f"dependency cycle: {text}",
            "remove one of these links, volumes_from or depends_on entries")


def absent_dependencies(containers: Sequence[Resource], add: Add) -> None:
    """A container that should run cannot depend on one declared ``state = "absent"``."""
    by_name = {r.name: r for r in containers}
    for res in containers:
        assert isinstance(res.spec, Container)
        if res.spec.state == "absent":
            continue
        for dep, path in edges(res):
            target = by_name.get(dep)
            if target is not None and isinstance(target.spec, Container) and (
                    target.spec.state == "absent"):
                add(res.file, ("container", res.name, *path),
                    f"container {dep!r} is declared with state = \"absent\" "
                    f"({where(target.file, target.line)})",
                    f"remove this reference, or give {dep} another state")
