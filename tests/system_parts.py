"""Parts of the machine some tests need beyond Python and the pip requirements: Debian's Chromium
(browser tests), a Redis server (real RQ workers), PostgreSQL as the suite's database
(PostgreSQL-only rules) and the ODBC library (``import pyodbc``); and aiortc, the Python WebRTC
peer of tests/test_browser_video_aiortc.py, which is in requirements-dev.txt but not in the app's
requirements (a virtual environment made with those alone lacks it).

A test says what it needs with a marker (``@pytest.mark.needs_redis``, ``needs_chromium``,
``needs_postgres``, ``needs_rabbitmq``, ``needs_odbc``, ``needs_azurite``, ``needs_aiortc``); tests using the
``browser_engine`` fixture need Chromium without saying so. Each part is looked for once per
session. When it is missing the test is skipped, and the end of the run prints one line per
missing part naming what to install; with ``CI=true`` a missing part fails the test instead (CI
must run everything). PostgreSQL is the exception: a run on SQLite skips its tests even in CI,
whose second pass runs them on PostgreSQL.

The hooks below are imported by ``tests/conftest.py``.
"""
from __future__ import annotations

import functools
import os
import socket
from dataclasses import dataclass
from typing import Callable

import pytest

DEFAULT_CHROMIUM = "/usr/bin/chromium"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
RABBITMQ_HOST, RABBITMQ_PORT = "127.0.0.1", 5672
AMQP_URL = f"amqp://guest:guest@{RABBITMQ_HOST}:{RABBITMQ_PORT}/%2F"


def chromium_path() -> str:
    """Debian's Chromium; ``CHROMIUM_PATH`` points elsewhere (no browser is ever downloaded)."""
    return os.environ.get("CHROMIUM_PATH") or DEFAULT_CHROMIUM


def strict() -> bool:
    """In CI (``CI=true``) a missing part is a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _chromium_found() -> bool:
    return os.access(chromium_path(), os.X_OK)


def _redis_found() -> bool:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=0.5):
            return True
    except OSError:
        return False


def _rabbitmq_found() -> bool:
    try:
        with socket.create_connection((RABBITMQ_HOST, RABBITMQ_PORT), timeout=0.5):
            return True
    except OSError:
        return False


def _postgres_is_the_database() -> bool:
    raw = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
    return raw.startswith(("postgres://", "postgresql"))


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AZURITE_BLOB = os.path.join(REPO, ".tools", "node_modules", ".bin", "azurite-blob")


def _azurite_found() -> bool:
    """The Azure Storage emulator from npm, installed into the checkout's ``.tools`` folder
    (gitignored; ``.ci/run`` installs it the same way)."""
    return os.access(AZURITE_BLOB, os.X_OK)


def _odbc_found() -> bool:
    try:
        import pyodbc  # noqa: F401  (needs the system's libodbc.so.2)
    except ImportError:
        return False
    return True


def _aiortc_found() -> bool:
    try:
        import aiortc  # noqa: F401  (its wheels bring FFmpeg's libraries through PyAV, and libsrtp)
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class Part:
    marker: str
    name: str
    absent: str  # what the summary line says when it is missing
    install: str
    found: Callable[[], bool]
    strict_in_ci: bool = True

    def present(self) -> bool:
        return _found(self.marker)


PARTS: dict[str, Part] = {part.marker: part for part in (
    Part("needs_chromium", "Chromium", "No Chromium",
         "apt-get install chromium (Debian's, at /usr/bin/chromium or CHROMIUM_PATH)", _chromium_found),
    Part("needs_redis", "Redis", f"No Redis server on {REDIS_HOST}:{REDIS_PORT}", "apt-get install redis-server",
         _redis_found),
    Part("needs_rabbitmq", "RabbitMQ", f"No RabbitMQ on {RABBITMQ_HOST}:{RABBITMQ_PORT}",
         "apt-get install rabbitmq-server (guest/guest on loopback)", _rabbitmq_found),
    Part("needs_postgres", "PostgreSQL", "The suite ran on SQLite, not PostgreSQL",
         "apt-get install postgresql, then run with TEST_DATABASE_URL=postgresql+psycopg://USER@HOST/DB",
         _postgres_is_the_database, strict_in_ci=False),
    Part("needs_odbc", "the ODBC library", "No ODBC library (libodbc.so.2, for pyodbc)",
         "apt-get install unixodbc tdsodbc", _odbc_found),
    Part("needs_azurite", "Azurite", "No Azurite (the Azure Storage emulator)",
         "install azurite: npm install --prefix .tools azurite", _azurite_found),
    Part("needs_aiortc", "aiortc", "No aiortc (the Python WebRTC peer)",
         ".venv/bin/pip install -r requirements-dev.txt (aiortc)", _aiortc_found),
)}

# Fixtures that bring a part with them: a test using one needs the part without a marker.
FIXTURE_PARTS = {"browser_engine": "needs_chromium"}


@functools.cache
def _found(marker: str) -> bool:
    return PARTS[marker].found()


_skipped: dict[str, int] = {}


def pytest_configure(config: pytest.Config) -> None:
    _skipped.clear()  # a new run in the same process counts afresh
    for part in PARTS.values():
        config.addinivalue_line("markers", f"{part.marker}: the test needs {part.name} ({part.install})")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in FIXTURE_PARTS.items():
            if fixture in getattr(item, "fixturenames", ()) and item.get_closest_marker(marker) is None:
                item.add_marker(marker)


def pytest_report_header(config: pytest.Config) -> str:
    missing = [part.name for part in PARTS.values() if not part.present()]
    return "system parts: " + ("all present" if not missing else "missing " + ", ".join(missing))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture runs (no database is built for a test that will be skipped)."""
    for marker, part in PARTS.items():
        if item.get_closest_marker(marker) is None or part.present():
            continue
        if strict() and part.strict_in_ci:
            pytest.fail(f"{part.absent} and CI=true: {part.install}", pytrace=False)
        pytest.skip(f"{part.absent}: {part.install}")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Counted from the reports, which reach the main process also from parallel workers."""
    if not (report.skipped and report.when == "setup"):
        return
    reason = str(report.longrepr)
    for marker, part in PARTS.items():
        if f"{part.absent}: {part.install}" in reason:
            _skipped[marker] = _skipped.get(marker, 0) + 1


def pytest_terminal_summary(terminalreporter) -> None:
    for marker, count in _skipped.items():
        part = PARTS[marker]
        terminalreporter.write_line(
            f"{part.absent}: {count} test{'s' if count != 1 else ''} skipped; to run them: {part.install}",
            yellow=True,
        )
