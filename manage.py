#!/usr/bin/env python3
"""The two commands, with nothing but Python 3.11+ installed:

    python3 manage.py run     set up .venv with what the app needs, then in one process: migrate,
                              sync roles, seed demo data if the database is empty, serve
    python3 manage.py test    set up .venv with the test tools too, run the whole test suite
                              (pytest; extra arguments pass through)

Also: ``python3 manage.py setup`` (the virtual environment with the test tools, and the compiled
translations) and ``python3 manage.py migrate`` (what ``run`` does before serving, without serving).
A ``.env`` file in the checkout is read by the app (config.py), so by every command.
Uses only the standard library until the virtual environment exists.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

STARTED = time.time()
ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
PYBABEL = BIN / ("pybabel.exe" if os.name == "nt" else "pybabel")
# Message catalogues (.po, committed) compiled to .mo (not committed) when a .po is newer.
TRANSLATIONS = [ROOT / "app" / "translations", ROOT / "app" / "translations" / "fab"]
# What each command installs: the app alone (run, migrate), or the app and the test tools.
APP = "requirements.txt"
DEV = "requirements-dev.txt"  # includes requirements.txt
COMMANDS = ("run", "test", "setup", "migrate", "help")


def requirements_hash(name: str) -> str:
    digest = hashlib.sha256()
    for path in sorted({ROOT / APP, ROOT / name}):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def stamp(name: str) -> Path:
    """Where the hash of the installed requirements file (and what it includes) is kept."""
    return VENV / f".{Path(name).stem}.sha256"


def run(*args: str | Path, env: dict | None = None) -> None:
    result = subprocess.run([str(a) for a in args], cwd=ROOT, env=env)
    if result.returncode != 0:
        sys.exit(result.returncode)


def stale_catalogues() -> list[Path]:
    """Translation folders with a .po newer than its .mo (or no .mo yet)."""
    stale = []
    for directory in TRANSLATIONS:
        for po in directory.glob("*/LC_MESSAGES/*.po"):
            mo = po.with_suffix(".mo")
            if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
                stale.append(directory)
                break
    return stale


def setup(requirements: str = DEV) -> None:
    """Create .venv and install the pinned requirements (again only when they change); compile
    the translations that changed."""
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed (this is {sys.version.split()[0]}).")
    if not PYTHON.exists():
        print(f"Creating the virtual environment in {VENV} ...", flush=True)
        venv.create(VENV, with_pip=True)
    done = stamp(requirements)
    if not done.exists() or done.read_text() != requirements_hash(requirements):
        print(f"Installing {requirements} ...", flush=True)
        run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        run(PYTHON, "-m", "pip", "install", "--quiet", "-r", ROOT / requirements)
        done.write_text(requirements_hash(requirements))
        if requirements == DEV:  # the app's requirements came with it
            stamp(APP).write_text(requirements_hash(APP))
    for directory in stale_catalogues():
        run(PYBABEL, "-q", "compile", "-d", directory)


def serve(*flags: str) -> None:
    """run.py in one process (migrate, roles, seed, serve); it prints where the time went."""
    env = dict(os.environ, CLINIC_STARTED_AT=str(STARTED), CLINIC_SETUP_SECONDS=f"{time.time() - STARTED:.3f}")
    run(PYTHON, ROOT / "run.py", *flags, env=env)


def parallel(pytest_args: list[str]) -> list[str]:
    """One pytest-xdist worker per core (at most 4), each with its own database; a test file stays
    on one worker (its module fixtures are built once). Not when the arguments choose otherwise."""
    workers = min(os.cpu_count() or 1, 4)
    chosen = {"-n", "--numprocesses", "no:xdist", "--pdb", "--collect-only", "--co"}
    if workers < 2 or chosen & set(pytest_args) or any(a.startswith(("-n", "--numprocesses=")) for a in pytest_args):
        return []
    return ["-n", str(workers), "--dist", "loadfile"]


def main(argv: list[str]) -> None:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command not in COMMANDS and command not in ("-h", "--help"):
        print(f"manage.py: unknown command {command!r}; the commands are {', '.join(COMMANDS)}.", file=sys.stderr)
        sys.exit(2)
    if command in ("run", "migrate") and rest:
        print(f"manage.py {command}: takes no arguments (got {' '.join(rest)}).", file=sys.stderr)
        sys.exit(2)
    if command == "setup":
        setup(DEV)
    elif command == "migrate":
        setup(APP)
        serve("--prepare", "--no-serve")
    elif command == "run":
        setup(APP)
        serve("--prepare")
    elif command == "test":
        setup(DEV)
        # the slowest tests named at the end: the suite's time budget is 15 minutes
        durations = [] if any(a.startswith("--durations") for a in rest) else ["--durations=15"]
        run(PYTHON, "-m", "pytest", *parallel(rest), *durations, *rest)
    else:
        print(__doc__)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        sys.exit(130)
