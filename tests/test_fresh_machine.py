"""A machine with nothing but Python: the app imports and the whole suite loads without the ODBC
library and without Chromium, the tests that need them are skipped with one line each naming what
to install, and with CI=true a missing part fails instead.

This machine has both, so their absence is simulated in subprocesses: a ``sitecustomize`` module
sets ``sys.modules['pyodbc'] = None`` (``import pyodbc`` then fails as it does without
libodbc.so.2) and ``CHROMIUM_PATH`` points at a file that does not exist."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bare_env(tmp_path_factory) -> dict:
    tmp_path = tmp_path_factory.mktemp("bare")
    (tmp_path / "sitecustomize.py").write_text("import sys\n\nsys.modules['pyodbc'] = None\n")
    env = {k: v for k, v in os.environ.items()
           if k not in {"TEST_DATABASE_URL", "DATABASE_URL", "CI"} and not k.startswith("PYTEST_")}
    env.update(PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]), CHROMIUM_PATH=str(tmp_path / "no-chromium"),
               INSTANCE_PATH=str(tmp_path / "instance"))
    return env


BUILD_THEN_COLLECT = """
import sys
try:
    import pyodbc
except ImportError as error:
    print("pyodbc:", error)
from app import create_app
from config import TestConfig
app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI="sqlite://")
print("routes:", len(list(app.url_map.iter_rules())))
import pytest
sys.exit(pytest.main(["--collect-only", "-q", "-p", "no:randomly"]))
"""


@pytest.fixture(scope="module")
def runs(bare_env) -> dict[str, subprocess.Popen]:
    """The three runs start together (each spends most of its time importing) and are read by the
    tests below."""
    def start(env: dict, *args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    started = {
        "collect": start(bare_env, "-c", BUILD_THEN_COLLECT),
        "skip": start(bare_env, "-m", "pytest", "-q", "-p", "no:randomly", "tests/test_mssql.py",
                      "tests/test_browser.py"),
        "ci": start({**bare_env, "CI": "true"}, "-m", "pytest", "-q", "-p", "no:randomly",
                    "tests/test_mssql.py::test_mssql_pyodbc_urls_are_accepted"),
    }
    yield started
    for process in started.values():
        if process.poll() is None:
            process.kill()
            process.wait()


def finish(process: subprocess.Popen) -> tuple[int, str]:
    output, _ = process.communicate(timeout=300)
    return process.returncode, output


def test_the_app_builds_and_the_whole_suite_collects_without_pyodbc_or_chromium(runs):
    returncode, output = finish(runs["collect"])
    assert returncode == 0, output
    assert "pyodbc: import of pyodbc halted" in output  # the simulation works
    assert int(output.split("routes:")[1].split()[0]) > 100
    collected = {line.split("::")[0] for line in output.splitlines() if "::" in line}
    every_file = {f"tests/{path.name}" for path in (ROOT / "tests").glob("test_*.py")}
    assert collected == every_file


def test_missing_parts_are_skipped_with_one_line_each(runs):
    returncode, output = finish(runs["skip"])
    assert returncode == 0, output
    assert "2 passed, 4 skipped" in output
    lines = output.splitlines()
    assert lines.count("No Chromium: 3 tests skipped; to run them: apt-get install chromium "
                       "(Debian's, at /usr/bin/chromium or CHROMIUM_PATH)") == 1
    assert lines.count("No ODBC library (libodbc.so.2, for pyodbc): 1 test skipped; to run them: "
                       "apt-get install unixodbc tdsodbc") == 1


def test_in_ci_a_missing_part_fails(runs):
    returncode, output = finish(runs["ci"])
    assert returncode == 1, output
    assert "No ODBC library (libodbc.so.2, for pyodbc) and CI=true: apt-get install unixodbc tdsodbc" in output
