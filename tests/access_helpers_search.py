"""Logins of the search tests' own (the shared role users stay as they are)."""
from __future__ import annotations

from tests.conftest import PASSWORD


def ensure_user(app, username: str, role: str) -> int:
    from tests.conftest import MFA_ROLES
    from tests.factories import enrol, login_code

    with app.app_context():
        sm = app.appbuilder.sm
        user = sm.find_user(username=username)
        if user is None:
            user = sm.add_user(username, username, "Tester", f"{username}@test.example", sm.find_role(role),
                               password=PASSWORD)
        if role in MFA_ROLES and login_code(app, username) is None:
            enrol(app, username)
        return user.id
