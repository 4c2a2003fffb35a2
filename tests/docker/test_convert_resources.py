"""``runtime.docker.convert.resources``: the memory + swap limit Docker sets by itself is not
reported (twice the memory, or -1 on a host without swap accounting); one set by hand is,
so the controller sees ``docker update --memory-swap`` as drift. Pure (API JSON in)."""

from __future__ import annotations

from runtime.docker.convert import resources

M = 64 * 1024 * 1024


def host(memory: int, swap: int) -> dict[str, int]:
    return {"Memory": memory, "MemorySwap": swap, "NanoCpus": 500_000_000, "PidsLimit": 100}


def test_docker_default_swap_is_not_reported() -> None:
    assert resources(host(M, 2 * M)).memory_swap is None
    assert resources(host(0, 0)).memory_swap is None
    assert resources(host(M, 2 * M)) == resources(host(M, 0))


def test_swap_set_by_hand_is_reported() -> None:
    assert resources(host(M, 8 * M)).memory_swap == 8 * M
    assert resources(host(M, M)).memory_swap == M  # no swap at all: also not the default


def test_unlimited_swap_is_drift_only_where_the_host_limits_swap() -> None:
    asked: list[bool] = []

    def limits(answer: bool) -> bool:
        asked.append(answer)
        return answer

    assert resources(host(M, -1), lambda: limits(True)).memory_swap == -1
    assert resources(host(M, -1), lambda: limits(False)).memory_swap is None
    resources(host(M, 2 * M), lambda: limits(True))
    assert asked == [True, False], "the host is asked only about a -1"
