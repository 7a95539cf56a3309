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

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import get_locale


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


def N_(text: str) -> str:  # noqa: N802 - gettext_noop: marks strings for extraction (babel.cfg)
    return text


# Stored codes that services pass through gettext to name them inside a message ("An appointment
# that is checked_in cannot become requested."): marked here so that they are in the catalogue.
MESSAGE_CODES = (
    # appointment statuses (app.models.scheduling.APPOINTMENT_STATUSES)
    N_("requested"), N_("confirmed"), N_("checked_in"), N_("in_consultation"), N_("completed"), N_("cancelled"),
    N_("no_show"),
    # invoice statuses (app.models.billing.INVOICE_STATUSES)
    N_("draft"), N_("issued"), N_("partially_paid"), N_("paid"), N_("void"), N_("refunded"),
    # whole-day schedule exceptions (app.services.schedule_rules.whole_day_off)
    N_("leave"), N_("holiday"), N_("training"),
)
