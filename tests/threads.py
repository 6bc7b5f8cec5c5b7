"""Releasing several threads at the same moment, for the tests of races (claims, migrations)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def race(n: int, work: Callable[[int], T]) -> list[T]:
    """``work(i)`` for i in range(n), all released at the same moment from n threads."""
    barrier = threading.Barrier(n)

    def one(i: int) -> T:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))
