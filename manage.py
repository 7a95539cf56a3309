#!/usr/bin/env python3
"""The two commands, with nothing but Python 3.11+ installed:

    python3 manage.py run     set up .venv, migrate, sync roles, seed demo data if empty, serve
    python3 manage.py test    set up .venv and run the whole test suite (pytest; extra args pass through)

Also: ``python3 manage.py setup`` (only the virtual environment and the compiled translations) and
``python3 manage.py migrate``.
Uses only the standard library until the virtual environment exists.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
PYBABEL = BIN / ("pybabel.exe" if os.name == "nt" else "pybabel")
# Message catalogues (.po, committed) compiled to .mo (not committed) at every set-up.
TRANSLATIONS = [ROOT / "app" / "translations", ROOT / "app" / "translations" / "fab"]
REQUIREMENTS = [ROOT / "requirements.txt", ROOT / "requirements-dev.txt"]
STAMP = VENV / ".requirements.sha256"


def requirements_hash() -> str:
    digest = hashlib.sha256()
    for path in REQUIREMENTS:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def run(*args: str | Path) -> None:
    result = subprocess.run([str(a) for a in args], cwd=ROOT)
    if result.returncode != 0:
        sys.exit(result.returncode)


def setup() -> None:
    """Create .venv and install the pinned requirements (again only when they change); compile
    the translations."""
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed (this is {sys.version.split()[0]}).")
    if not PYTHON.exists():
        print(f"Creating the virtual environment in {VENV} ...", flush=True)
        venv.create(VENV, with_pip=True)
    if not STAMP.exists() or STAMP.read_text() != requirements_hash():
        print("Installing the requirements ...", flush=True)
        run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        run(PYTHON, "-m", "pip", "install", "--quiet", "-r", ROOT / "requirements-dev.txt")
        STAMP.write_text(requirements_hash())
    for directory in TRANSLATIONS:
        run(PYBABEL, "-q", "compile", "-d", directory)


def flask(*args: str) -> None:
    run(PYTHON, "-m", "flask", *args)


def migrate() -> None:
    """Schema, roles and permissions, demo data when the database is empty."""
    flask("db", "upgrade")
    flask("sync-roles")
    flask("seed", "--if-empty")


def main(argv: list[str]) -> None:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command == "setup":
        setup()
    elif command == "migrate":
        setup()
        migrate()
    elif command == "run":
        setup()
        migrate()
        run(PYTHON, ROOT / "run.py")
    elif command == "test":
        setup()
        run(PYTHON, "-m", "pytest", *rest)
    else:
        print(__doc__)
        sys.exit(0 if command in ("help", "-h", "--help") else 2)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        sys.exit(130)
