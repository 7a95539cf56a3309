"""The README tells the truth: its permission matrix, demo logins and settings match the code."""
from __future__ import annotations

import re
from pathlib import Path

from app.cli import DEMO_PASSWORD, DEMO_USERS
from app.permissions import matrix_markdown

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
CONFIG = (Path(__file__).resolve().parent.parent / "config.py").read_text(encoding="utf-8")


def test_permission_matrix_is_the_one_in_the_code():
    assert matrix_markdown() in README


def test_demo_logins_are_listed_with_their_roles_and_password():
    assert DEMO_PASSWORD in README
    for username, (role, _first, _last) in DEMO_USERS.items():
        assert f"| `{username}` | {role} |" in README


def test_every_environment_setting_is_documented():
    names = set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', CONFIG)) | set(re.findall(r'_bool\("([A-Z_]+)"', CONFIG))
    names |= {"SECRET_KEY", "DATABASE_URL"}
    missing = sorted(name for name in names if f"`{name}`" not in README)
    assert not missing, f"settings missing from the README's table: {missing}"


def test_the_two_commands_are_the_ones_ci_uses():
    assert "python3 manage.py run" in README and "python3 manage.py test" in README
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert "python3 manage.py test" in ci
