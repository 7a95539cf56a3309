"""A machine with nothing but Python: the app imports and the whole suite loads without the ODBC
library and without Chromium, the tests that need them are skipped with one line each naming what
to install, and with CI=true a missing part fails instead.

This machine has both, so their absence is simulated in a subprocess: a ``sitecustomize`` module
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


# One process (importing the app and the suite is most of the time): build the app, collect the
# whole suite, run two files as a bare machine would, then once more as CI.
BARE_MACHINE = """
import os, sys
try:
    import pyodbc
except ImportError as error:
    print("pyodbc:", error)
from app import create_app
from config import TestConfig
app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI="sqlite://")
print("routes:", len(list(app.url_map.iter_rules())))
import pytest
for name, args in (
    ("collect", ["--collect-only", "-q"]),
    ("skip", ["-q", "tests/test_mssql.py", "tests/test_browser.py"]),
    ("ci", ["-q", "tests/test_mssql.py::test_mssql_pyodbc_urls_are_accepted"]),
):
    if name == "ci":
        os.environ["CI"] = "true"
    print(f"=== {name}", flush=True)
    code = pytest.main(["-p", "no:randomly", *args])
    print(f"=== {name} exit {int(code)}", flush=True)
"""


@pytest.fixture(scope="module")
def bare_machine(bare_env) -> dict[str, tuple[int, str]]:
    """Each phase's exit status and output."""
    result = subprocess.run([sys.executable, "-c", BARE_MACHINE], cwd=ROOT, env=bare_env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    assert "=== ci exit" in result.stdout, result.stdout
    phases = {"build": (result.returncode, result.stdout.split("=== collect\n")[0])}
    for name in ("collect", "skip", "ci"):
        body = result.stdout.split(f"=== {name}\n")[1]
        output, status = body.split(f"=== {name} exit ")
        phases[name] = (int(status.split()[0]), output)
    return phases


def test_the_app_builds_without_pyodbc(bare_machine):
    _, output = bare_machine["build"]
    assert "pyodbc: import of pyodbc halted" in output  # the simulation works
    assert int(output.split("routes:")[1].split()[0]) > 100


def test_the_whole_suite_collects_without_pyodbc_or_chromium(bare_machine):
    status, output = bare_machine["collect"]
    assert status == 0, output
    collected = {line.split("::")[0] for line in output.splitlines() if "::" in line}
    every_file = {f"tests/{path.name}" for path in (ROOT / "tests").glob("test_*.py")}
    assert collected == every_file


def test_missing_parts_are_skipped_with_one_line_each(bare_machine):
    status, output = bare_machine["skip"]
    assert status == 0, output
    assert "2 passed, 4 skipped" in output
    lines = output.splitlines()
    assert lines.count("No Chromium: 3 tests skipped; to run them: apt-get install chromium "
                       "(Debian's, at /usr/bin/chromium or CHROMIUM_PATH)") == 1
    assert lines.count("No ODBC library (libodbc.so.2, for pyodbc): 1 test skipped; to run them: "
                       "apt-get install unixodbc tdsodbc") == 1


def test_in_ci_a_missing_part_fails(bare_machine):
    status, output = bare_machine["ci"]
    assert status == 1, output
    assert "No ODBC library (libodbc.so.2, for pyodbc) and CI=true: apt-get install unixodbc tdsodbc" in output
