"""The Vietnamese translation is complete and current, and the language is chosen as documented:
the session's choice (FAB's /lang/<locale> or the public site's switch), else the browser's
Accept-Language, else BABEL_DEFAULT_LOCALE (English)."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import flask_appbuilder
import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"
CATALOGUES = {  # the clinic's strings, and Flask-AppBuilder's own (FAB ships no Vietnamese)
    "clinic": (TRANSLATIONS / "messages.pot", TRANSLATIONS / "vi" / "LC_MESSAGES" / "messages.po"),
    "fab": (TRANSLATIONS / "fab" / "messages.pot", TRANSLATIONS / "fab" / "vi" / "LC_MESSAGES" / "messages.po"),
}
HOW_TO_UPDATE = (
    "Update the catalogue (README, 'Translations'):\n"
    "  .venv/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_ -o app/translations/messages.pot .\n"
    "  .venv/bin/pybabel update -i app/translations/messages.pot -d app/translations\n"
    "then translate the new entries in app/translations/vi/LC_MESSAGES/messages.po (no empty msgstr, no\n"
    "'fuzzy' flag) and compile: .venv/bin/pybabel compile -d app/translations"
)
PLACEHOLDER = re.compile(r"%\(\w+\)[sdifr]|%[sdifr]")
TAG = re.compile(r"</?[a-zA-Z][^>]*>")
VI = {"Accept-Language": "vi-VN,vi;q=0.9,en-US;q=0.6,en;q=0.5"}


def read_catalogue(path: Path):
    with path.open("rb") as handle:
        return read_po(handle, locale="vi" if path.suffix == ".po" else None)


def msgids(catalogue) -> set:
    return {message.id for message in catalogue if message.id}


def extract(command: list[str], output: Path, cwd_input: Path | None = None) -> set:
    """Run ``pybabel extract`` in-process with ``-o output``."""
    args = list(command)
    args[args.index("-o") + 1] = str(output)
    if cwd_input is not None:
        args[-1] = str(cwd_input)
    CommandLineInterface().run(["pybabel", "-q", *args])
    return msgids(read_catalogue(output))


# --- the catalogues -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CATALOGUES)
def test_every_message_has_a_vietnamese_translation_with_the_same_placeholders(name):
    pot, po = CATALOGUES[name]
    catalogue = read_catalogue(po)
    assert catalogue.locale_identifier == "vi" and catalogue.num_plurals == 1
    assert msgids(catalogue) == msgids(read_catalogue(pot)), f"{po} is not in step with {pot}.\n{HOW_TO_UPDATE}"
    problems = []
    for message in catalogue:
        if not message.id:
            continue
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        translations = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            problems.append(f"fuzzy: {sources[0]!r}")
        for translation in translations:
            if not translation or not translation.strip():
                problems.append(f"untranslated: {sources[0]!r}")
                continue
            # The last source is the English plural, which names every placeholder.
            if sorted(PLACEHOLDER.findall(translation)) != sorted(PLACEHOLDER.findall(sources[-1])):
                problems.append(f"placeholders differ: {sources[-1]!r} -> {translation!r}")
            if sorted(TAG.findall(translation)) != sorted(TAG.findall(sources[-1])):
                problems.append(f"HTML differs: {sources[-1]!r} -> {translation!r}")
    problems += [f"{message.id!r}: {error}" for message, errors in catalogue.check() for error in errors]
    assert not problems, "\n".join(problems) + "\n" + HOW_TO_UPDATE


def test_the_template_has_every_string_of_the_source(tmp_path):
    """Re-extract with the command documented in babel.cfg: a new string without translation fails here."""
    command = shlex.split((ROOT / "babel.cfg").read_text(encoding="utf-8").splitlines()[0].lstrip("# "))
    assert command[:2] == ["pybabel", "extract"]
    args = command[1:]
    args[args.index("-F") + 1] = str(ROOT / "babel.cfg")
    fresh = extract(args, tmp_path / "messages.pot", cwd_input=ROOT)
    committed = msgids(read_catalogue(CATALOGUES["clinic"][0]))
    missing, stale = sorted(fresh - committed, key=str), sorted(committed - fresh, key=str)
    assert not missing and not stale, (
        f"app/translations/messages.pot is out of date.\nNew strings: {missing}\nGone: {stale}\n{HOW_TO_UPDATE}")


def test_flask_appbuilders_own_strings_are_all_translated(tmp_path):
    """After a FAB upgrade: re-extract FAB's strings (app/translations/fab/babel.cfg says how)."""
    fab_dir = Path(flask_appbuilder.__file__).resolve().parent
    args = ["extract", "-F", str(TRANSLATIONS / "fab" / "babel.cfg"), "-k", "lazy_gettext", "-k", "gettext",
            "-k", "_", "-k", "__", "-o", "-", str(fab_dir)]
    fresh = extract(args, tmp_path / "fab.pot")
    missing = sorted(fresh - msgids(read_catalogue(CATALOGUES["fab"][1])), key=str)
    assert not missing, f"Flask-AppBuilder strings without Vietnamese (app/translations/fab): {missing}"


def test_compiled_catalogues_are_not_committed():
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "*.mo" in ignored
    manage = (ROOT / "manage.py").read_text(encoding="utf-8")
    assert '"compile", "-d"' in manage and "TRANSLATIONS" in manage


# --- choosing the language ----------------------------------------------------------------------


def test_english_by_default(client):
    login = client.get("/login/").get_data(as_text=True)
    assert "Enter your login and password below" in login and "Đăng nhập" not in login
    public = client.get("/clinic/").get_data(as_text=True)
    assert '<html lang="en">' in public and "Welcome to" in public


def test_the_browsers_language_is_followed(client):
    login = client.get("/login/", headers=VI).get_data(as_text=True)
    assert "Nhập tên đăng nhập và mật khẩu bên dưới" in login and "Tên đăng nhập" in login
    assert "flag vn" in login  # the navbar's language menu shows the language in use
    public = client.get("/clinic/", headers=VI).get_data(as_text=True)
    assert '<html lang="vi">' in public and "Chào mừng đến với" in public and "Đặt lịch" in public
    english = client.get("/clinic/", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.8"}).get_data(as_text=True)
    assert "Welcome to" in english
    nothing_offered = client.get("/clinic/", headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert '<html lang="en">' in nothing_offered


def test_choosing_through_flask_appbuilders_menu_wins_over_the_browser(client):
    response = client.get("/lang/vi")
    assert response.status_code == 302
    assert "Nhập tên đăng nhập và mật khẩu bên dưới" in client.get("/login/").get_data(as_text=True)
    assert "Chào mừng đến với" in client.get("/clinic/").get_data(as_text=True)
    client.get("/lang/en")
    assert "Enter your login and password below" in client.get("/login/", headers=VI).get_data(as_text=True)
    assert client.get("/lang/xx").status_code == 404


def test_the_public_switch_sets_the_same_choice_and_comes_back(client):
    page = client.get("/clinic/services").get_data(as_text=True)
    assert 'href="/clinic/language/vi?next=/clinic/services"' in page
    response = client.get("/clinic/language/vi?next=/clinic/services")
    assert response.status_code == 302 and response.headers["Location"] == "/clinic/services"
    with client.session_transaction() as session:
        assert session["locale"] == "vi"
    page = client.get("/clinic/services").get_data(as_text=True)
    assert '<html lang="vi">' in page and "Dịch vụ" in page and 'href="/clinic/language/en?next=' in page
    assert "Nhập tên đăng nhập và mật khẩu bên dưới" in client.get("/login/").get_data(as_text=True)
    assert client.get("/clinic/language/en?next=//evil.example/").headers["Location"] == "/clinic/"
    assert client.get("/clinic/language/xx").status_code == 404


def test_dates_follow_the_language(app):
    from datetime import date

    from flask_babel import format_date

    with app.test_request_context("/", headers=VI):
        assert format_date(date(2026, 12, 1), "full") == "Thứ Ba, 1 tháng 12, 2026"
    with app.test_request_context("/"):
        assert format_date(date(2026, 12, 1), "full") == "Tuesday, December 1, 2026"


def test_plural_messages_are_translated(app):
    from flask_babel import ngettext

    with app.test_request_context("/", headers=VI):
        assert ngettext("%(num)d date skipped.", "%(num)d dates skipped.", 3) == "Đã bỏ qua 3 ngày."
    with app.test_request_context("/"):
        assert ngettext("%(num)d date skipped.", "%(num)d dates skipped.", 1) == "1 date skipped."


# --- messages from the API and forms -------------------------------------------------------------


def test_api_validation_errors_in_vietnamese(client, api_token):
    headers = {**api_token("receptionist"), **VI}
    response = client.post("/api/v1/patient/", json={"full_name": "Nguyễn Văn Bình", "phone": "12345"},
                           headers=headers)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["message"]["phone"] == ["Nhập số điện thoại hợp lệ."]
    english = client.post("/api/v1/patient/", json={"full_name": "Nguyễn Văn Bình", "phone": "12345"},
                          headers=api_token("receptionist"))
    assert english.get_json()["message"]["phone"] == ["Enter a valid phone number."]


def test_form_errors_in_vietnamese(client):
    client.get("/clinic/language/vi")
    response = client.post("/clinic/signup", data={
        "full_name": "", "phone": "12", "email": "not-an-email", "password": "short"})
    assert response.status_code == 422
    errors = dict(re.findall(r'data-field="(\w+)">([^<]+)<', response.get_data(as_text=True)))
    assert errors["phone"] == "Nhập số điện thoại hợp lệ."
    assert errors["password"] == "Dùng ít nhất 8 ký tự."


# --- without compiled catalogues ---------------------------------------------------------------


def test_missing_compiled_catalogues_mean_english_not_an_error(app, client, tmp_path, monkeypatch):
    """A checkout where `pybabel compile` has not run yet: Vietnamese is asked for, English is shown."""
    from flask_babel import Domain

    babel = app.extensions["babel"].instance
    monkeypatch.setitem(babel.__dict__, "domain_instance", Domain(translation_directories=[str(tmp_path)]))
    response = client.get("/clinic/", headers=VI)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Welcome to" in page and '<html lang="vi">' in page
    assert client.get("/login/", headers=VI).status_code == 200
