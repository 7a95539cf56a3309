"""What several benchmarks share: the login through the form (and the two-step code page), and
the teardown that gives the scratch database its connections back before it is dropped."""
from __future__ import annotations

import hashlib
import os
from typing import Any


def form_login(app: Any, client: Any, username: str, password: str, totp_secret: str) -> None:
    """Through the login form and the two-step code page, as a browser (CSRF token in a header)."""
    import pyotp
    from itsdangerous import URLSafeTimedSerializer

    with client.session_transaction() as session:
        raw = session.setdefault("csrf_token", hashlib.sha1(os.urandom(64)).hexdigest())
    token = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)
    headers = {"X-CSRFToken": token}
    answer = client.post("/login/", data={"username": username, "password": password}, headers=headers)
    if answer.status_code in (302, 303) and answer.headers["Location"].startswith("/login/code/"):
        answer = client.post("/login/code/", data={"code": pyotp.TOTP(totp_secret).now()}, headers=headers)
    assert answer.status_code in (302, 303) and "/login" not in answer.headers["Location"], "the login failed"


def release_database(app: Any) -> None:
    """The app's session and pooled connections closed (the scratch database can then be dropped)."""
    with app.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()
