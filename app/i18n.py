"""Interface language, on top of Flask-AppBuilder's BabelManager.

FAB already gives the languages (config ``LANGUAGES``), the ``/lang/<locale>`` route, the menu in the
navigation bar and the choice kept in ``session["locale"]``. One thing changes: FAB's selector pins
``BABEL_DEFAULT_LOCALE`` into the session of anyone who has not chosen; ours leaves the session alone
and, until a language is chosen, follows the browser's ``Accept-Language`` (best match among
``LANGUAGES``), else ``BABEL_DEFAULT_LOCALE``. Clients that send no ``Accept-Language`` (scripts, the
test client) get the default, English.

Catalogues (app/translations, README "Translations"): ``messages`` for the clinic's strings and
``fab/`` for FAB's own strings (FAB ships no Vietnamese). A missing compiled ``.mo`` only means
English: Flask-Babel skips catalogues it cannot find.
"""
from __future__ import annotations

from flask import Flask, Response, current_app, has_request_context, request, session
from flask_babel import LazyString, get_locale, gettext, refresh
from flask_login import user_logged_in


def languages() -> dict:
    return current_app.config["LANGUAGES"]


def select_locale() -> str:
    """The session's choice, else the browser's best match, else BABEL_DEFAULT_LOCALE."""
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    if not has_request_context():
        return default
    available = languages()
    asked = request.args.get("_l_")  # FAB's convention for API calls: ?_l_=vi
    if asked is not None:
        return asked if asked in available else default
    chosen = session.get("locale")
    if chosen in available:
        return chosen
    return request.accept_languages.best_match(list(available)) or default


def current_language() -> str:
    """The language of this request, always a key of LANGUAGES (for templates)."""
    locale = str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])
    return locale if locale in languages() else current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app: Flask) -> None:
    """Call after ``appbuilder.init_app``: FAB's BabelManager has then set up Flask-Babel."""
    app.extensions["babel"].locale_selector = select_locale
    app.appbuilder.bm.get_locale = select_locale  # the same answer wherever FAB asks
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.globals["choice_label"] = choice_label
    user_logged_in.connect(apply_stored_language, app)
    app.after_request(remember_switched_language)


# The language switches: FAB's menu (``/lang/<locale>``) and the public site's (``/language/<locale>``).
LANGUAGE_SWITCHES = frozenset({"LocaleView.index", "public.language"})


def remember_switched_language(response: Response) -> Response:
    """A logged-in user who switches the language keeps it on their profile (``UserProfile.language``):
    notices and messages the clinic makes for them later follow the language they chose, not
    ``BABEL_DEFAULT_LOCALE``. Anonymous visitors: the session only, as before."""
    if request.endpoint not in LANGUAGE_SWITCHES or response.status_code >= 400 \
            or not current_app.config.get("LANGUAGE_SWITCH_SAVES_PROFILE", True):
        return response
    from flask_login import current_user

    from app.extensions import db
    from app.models.types import utcnow
    from app.services.accounts.profile import remember_language

    locale = session.get("locale")
    if locale and getattr(current_user, "is_authenticated", False):
        try:
            remember_language(db.session, user_id=current_user.id, language=locale, languages=languages(),
                              now=utcnow())
        except Exception:  # the switch itself worked: a failed save is logged, not an error page
            db.session.rollback()
            current_app.logger.exception("could not save the language choice of user %s", current_user.id)
    return response


def apply_stored_language(sender: Flask, user, **extra) -> None:
    """At login, the language the user chose on their profile becomes the session's (their
    pages follow it; switching in the menu still works for the session). No stored choice: the
    session keeps what it had."""
    from app.extensions import db
    from app.services.accounts.profile import stored_language

    language = stored_language(db.session, getattr(user, "id", None), sender.config["LANGUAGES"])
    if language is not None:
        session["locale"] = language
        refresh()


def N_(text: str) -> str:  # noqa: N802 - gettext_noop: marks strings for extraction (babel.cfg)
    return text


# Stored codes (the values of ``app.models.base.choice`` columns) are marked with N_() where the
# models list them (SEXES, APPOINTMENT_STATUSES, ...): they are msgids of their own. Services pass
# them through gettext to name them inside a message ("An appointment that is checked_in cannot
# become requested."), so their translations are lower case; ``choice_label`` shows them alone.


def choice_label(code: str | None) -> str:
    """A stored code as a reader sees it: its translation, else the code with spaces for
    underscores, first letter in upper case ("checked_in" -> "Đã tiếp nhận" / "Checked in")."""
    if code is None or code == "":
        return ""
    code = str(code)
    text = gettext(code)
    if text == code:
        text = code.replace("_", " ")
    return text[:1].upper() + text[1:]


def lazy_choice_label(code: str) -> LazyString:
    """``choice_label`` at render time (select options built once, shown in any language)."""
    return LazyString(choice_label, code)
