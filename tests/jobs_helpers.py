"""Job functions for tests/test_jobs.py, importable by dotted name (``tests.jobs_helpers.add``)."""
from __future__ import annotations

CALLS: list[tuple] = []


def add(a: int, b: int = 0) -> int:
    CALLS.append((a, b))
    return a + b


def greet(name: str, *, greeting: str = "Xin chào") -> str:
    return f"{greeting}, {name}!"


def fail(message: str) -> None:
    raise RuntimeError(message)
