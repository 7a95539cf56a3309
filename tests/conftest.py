"""Fixtures: one app per test session on a fresh database built by the Alembic migrations
(SQLite file by default, PostgreSQL when TEST_DATABASE_URL or DATABASE_URL says so); each test
starts with no clinic data; one login per role. Run in parallel (pytest-xdist, as
``python3 manage.py test`` does), each worker has its own instance folder and database."""
from __future__ import annotations

import os
import tempfile
import uuid

# Before config.py is imported: keep instance files (secret, outbox, SQLite) out of the checkout,
# and leave a developer's .env alone (its DATABASE_URL must never be the database the suite wipes).
if os.environ.get("PYTEST_XDIST_WORKER") or "INSTANCE_PATH" not in os.environ:
    os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="clinic-test-instance-")
os.environ["FLASK_SKIP_DOTENV"] = "1"

import pytest  # noqa: E402
from flask_appbuilder import Model  # noqa: E402
from sqlalchemy import create_engine, event, text  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402

from config import TestConfig, database_url  # noqa: E402
from tests.desk_helpers import desk_clock  # noqa: E402,F401  (fixture: the front desk's clock at 10:00 today)
from tests.system_parts import (  # noqa: E402,F401  (pytest hooks: missing system parts skip, or fail in CI)
    chromium_path,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_report_header,
    pytest_runtest_logreport,
    pytest_runtest_setup,
    pytest_terminal_summary,
)

PASSWORD = "Test-Passw0rd!"
ROLES = ("Admin", "Manager", "Receptionist", "Doctor", "Pharmacist", "Lab", "Cashier", "Patient")
MFA_ROLES = ("Admin", "Manager", "Doctor")  # MFA_REQUIRED_ROLES: their shared users are enrolled
# Reference data loaded once per session (the ICD-10 sample): never emptied between tests; a test
# that changes it puts the sample back (tests/test_icd10.py).
KEPT_TABLES = ("icd10_code",)


def test_database_url() -> str:
    """The suite's database; a parallel worker gets its own (``<name>_gw0``, ...), made if missing."""
    raw = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not raw:
        return f"sqlite:///{os.path.join(os.environ['INSTANCE_PATH'], 'test.db')}"
    url = make_url(database_url(raw))
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url.render_as_string(hide_password=False)
    if url.get_backend_name() == "sqlite":
        stem, dot, suffix = (url.database or "test.db").rpartition(".")
        url = url.set(database=f"{stem}_{worker}{dot}{suffix}" if dot else f"{suffix}_{worker}")
    else:
        url = url.set(database=f"{url.database}_{worker}")
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}) is None:
                conn.execute(text(f'CREATE DATABASE "{url.database}"'))
        admin.dispose()
    return url.render_as_string(hide_password=False)


@event.listens_for(Engine, "connect")
def _commit_without_waiting_for_the_disk(dbapi_connection, connection_record) -> None:
    """Test databases are thrown away: a commit need not wait for the disk (the suite commits
    thousands of times). SQLite: after the app's own pragmas (foreign keys, WAL). PostgreSQL: for
    this session only; the server's settings are untouched."""
    module = type(dbapi_connection).__module__
    if module.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()
    elif module.startswith("psycopg"):
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        dbapi_connection.execute("SET synchronous_commit TO off")
        dbapi_connection.autocommit = autocommit


def reset_database(url: str) -> None:
    engine = create_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    elif engine.dialect.name == "sqlite":
        path = engine.url.database
        if path and os.path.exists(path):
            os.remove(path)
    engine.dispose()


@pytest.fixture(scope="session")
def db_url() -> str:
    return test_database_url()


@pytest.fixture(scope="session")
def app(db_url):
    from flask_migrate import upgrade

    from app import create_app

    reset_database(db_url)
    application = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=db_url)
    from tests.factories import BrowserClient

    application.test_client_class = BrowserClient  # CSRF stays on: clients send the token like our pages

    def fresh_g() -> None:
        """In production every request has a fresh ``g``. A test that keeps an app context pushed
        (the ``db`` fixture) would share one ``g`` between its requests, and flask-login would
        then see the previous request's user: start every request with an empty ``g``."""
        from flask import g

        for key in list(g):
            g.pop(key)

    application.before_request_funcs.setdefault(None, []).insert(0, fresh_g)
    with application.app_context():
        upgrade()
        application.appbuilder.sm.sync_roles()
        sm = application.appbuilder.sm
        for role in ROLES:
            sm.add_user(role.lower(), role, "Tester", f"{role.lower()}@test.example", sm.find_role(role),
                        password=PASSWORD)
        from app.extensions import db as database
        from app.services import icd10

        icd10.load_sample(database.session)  # reference data, like the roles: kept between tests
        database.session.commit()
        from tests.factories import enrol

        for role in MFA_ROLES:  # their role needs two-step login: its code is tests.factories.login_code
            enrol(application, role.lower())
    yield application
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


def _truncate(db, used: set[str]) -> None:
    """TRUNCATE the tables a test used. A live server's request still under way (a page's poll or
    catch-up as the browser closes) may hold a table the TRUNCATE needs while waiting for another it
    holds: PostgreSQL then breaks the deadlock by failing one of the two. If it is the TRUNCATE, try
    again (the request is over by then)."""
    import time

    from sqlalchemy.exc import OperationalError

    for attempt in range(5):
        try:
            if "audit_event" in used:
                # The database refuses to empty the audit trail (migration 0006_audit_chain), to everyone:
                # this test-only cleanup, as the superuser the suite connects as, skips the triggers for
                # its own transaction (SET LOCAL). Production code has no such switch.
                db.session.execute(text("SET LOCAL session_replication_role = replica"))
            db.session.execute(text("TRUNCATE " + ", ".join(sorted(used)) + " RESTART IDENTITY CASCADE"))
            return
        except OperationalError as exc:
            db.session.rollback()
            if attempt == 4 or "deadlock" not in str(exc).lower():
                raise
            time.sleep(0.2 * (attempt + 1))


@pytest.fixture(autouse=True)
def _clean_clinic_tables(request):
    """Tests that touch the app start from an empty clinic (logins and roles stay)."""
    if "app" not in request.fixturenames:
        yield
        return
    yield
    application = request.getfixturevalue("app")
    application.extensions["cache"].clear_local()  # the next test's doctor 1 is another doctor
    with application.app_context():
        from app.extensions import db

        db.session.rollback()
        tables = [t for t in Model.metadata.sorted_tables if not t.name.startswith("ab_") and t.name not in KEPT_TABLES]
        # One cheap query finds the tables the test wrote to (most tests write to none or a few).
        probe = " UNION ALL ".join(f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM {t.name})" for t in tables)
        used = set(db.session.execute(text(probe)).scalars())
        if not used:
            db.session.rollback()
            return
        if db.engine.dialect.name == "postgresql":
            _truncate(db, used)
        else:
            for table in reversed(tables):
                if table.name in used:
                    db.session.execute(table.delete())
        db.session.commit()


@pytest.fixture
def db(app):
    from app.extensions import db as database

    with app.app_context():
        yield database
        database.session.rollback()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api_token(app):
    """api_token("doctor") -> headers with a JWT from FAB's login API."""
    tokens: dict[str, dict] = {}

    def get(username: str) -> dict:
        from tests.factories import login_body

        if username not in tokens:
            response = app.test_client().post("/api/v1/security/login", json=login_body(app, username))
            assert response.status_code == 200, response.get_json()
            tokens[username] = {"Authorization": f"Bearer {response.get_json()['access_token']}"}
        return tokens[username]

    return get


@pytest.fixture
def login_as(app):
    """login_as("receptionist") -> a test client with a logged-in browser session."""

    def login(username: str):
        from tests.factories import form_login

        browser = app.test_client()
        response = form_login(app, browser, username)
        assert response.status_code in (302, 303) and "/login/" not in response.headers["Location"], "login failed"
        return browser

    return login


@pytest.fixture
def scratch_url(db_url, tmp_path):
    """A throw-away database of the same kind as the suite's (SQLite file or PostgreSQL database)."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    name = f"clinic_scratch_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def api(app, client):
    """A REST client logged in as admin (tests/factories.py)."""
    from tests.factories import Api, token_headers

    return Api(client, token_headers(app, "admin"))


@pytest.fixture
def admin_id(app) -> int:
    with app.app_context():
        return app.appbuilder.sm.find_user(username="admin").id


@pytest.fixture
def clinic(app, api, admin_id):
    """Parent records built through the services on first use (tests/factories.py)."""
    from tests.factories import Clinic

    return Clinic(api, admin_id, app)


@pytest.fixture(scope="session")
def live_server(app):
    """The test app served over real HTTP on a free loopback port, for the browser tests."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser_engine():
    """Debian's headless Chromium driven by Playwright (no browser download, no network); the
    tests using it are skipped where it is missing (tests/system_parts.py)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        engine = playwright.chromium.launch(executable_path=chromium_path(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync",
        ])
        yield engine
        engine.close()


@pytest.fixture(scope="session")
def browser_logins() -> dict:
    """Each user's cookies after logging in through the form, once per session."""
    return {}


def logged_in_page(engine, app, live_server: str, browser_logins: dict, username: str, width: int = 1280,
                   locale: str = "en-US"):
    """A new context of ``engine`` (a Chromium) logged in as ``username``, and its page: through the
    login form (and the code page of two-step login) the first time, later from the cookies kept in
    ``browser_logins``. The caller closes ``page.context``."""
    context = engine.new_context(viewport={"width": width, "height": 900}, locale=locale,
                                 storage_state=browser_logins.get(username))
    if username in browser_logins and \
            context.request.get(f"{live_server}/api/v1/realtime/state", max_redirects=0).status != 200:
        # The kept login ended meanwhile (a test signed that user out everywhere, or its session
        # was revoked): log in afresh rather than hand the caller a page of the login form.
        del browser_logins[username]
        context.close()
        context = engine.new_context(viewport={"width": width, "height": 900}, locale=locale)
    page = context.new_page()
    if username not in browser_logins:
        page.goto(f"{live_server}/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        # the form's POST and its redirect to the user's start page: wait for the page it lands on, or
        # a goto right after this could be cut short by that redirect (ERR_ABORTED)
        with page.expect_navigation():
            page.click("input[type=submit], button[type=submit]")
        if "/login/code/" in page.url:  # two-step login (tests/factories.py: login_code)
            from tests.factories import login_code

            page.fill("input[name=code]", login_code(app, username) or "")
            with page.expect_navigation():
                page.click("button[type=submit]")
        assert "/login" not in page.url, f"{username} could not log in"
        browser_logins[username] = context.storage_state()
    page.base_url = live_server
    return page


@pytest.fixture
def page_as(browser_engine, live_server, browser_logins, app):
    """page_as("receptionist", width=390) -> a logged-in Playwright page. The browser's locale is
    pinned (en-US by default): date and time inputs are typed in its order of fields. The first
    page of a user logs in through the login form; later ones start with that user's cookies."""
    contexts = []

    def open_page(username: str, width: int = 1280, locale: str = "en-US"):
        page = logged_in_page(browser_engine, app, live_server, browser_logins, username, width, locale)
        contexts.append(page.context)
        return page

    yield open_page
    for context in contexts:
        context.close()
