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


def fail_and_count(path: str, message: str = "không gửi được") -> None:
    """Append a line to ``path`` (one per try, across worker processes), then fail."""
    with open(path, "a", encoding="utf-8") as out:
        out.write("try\n")
    raise RuntimeError(message)
