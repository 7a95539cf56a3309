"""Input that FAB reads before any of our code runs, checked at the door: ids in URLs, the list
arguments of the generated screens (``page_``, ``psize_``, ``_oc_``, ``_od_``, ``_flt_``) and the
REST login's payload. Each check says which FAB behaviour it stands in front of."""
from __future__ import annotations

import re
from typing import Any

import prison
from flask import Flask, current_app, request
from flask_appbuilder.api import BaseApi
from flask_appbuilder.baseviews import BaseModelView
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

from app.fab.interface import MAX_ID, MAX_PAGE_SIZE, InvalidQuery

_PAGE, _PAGE_SIZE = re.compile("page_(.*)"), re.compile("psize_(.*)")
_ORDER_DIRECTION = re.compile("_od_(.*)")


class IdConverter(IntegerConverter):
    """``<int:pk>`` matches the ids the tables can hold (1 to 2**31 - 1). Werkzeug's converter
    matches any number of digits, which FAB and our routes then pass to the database: SQLite
    raises OverflowError past 64 bits and PostgreSQL "integer out of range" past 32 (500). A
    number no record can have is simply "not found" (404)."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = 1, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def install(app: Flask) -> None:
    """Call on a new app, before any route is added (the URL converter applies to routes added
    after it)."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(check_list_arguments)
    app.before_request(check_rison)
    app.before_request(default_login_provider)


def _blueprints(kind: type) -> set[str]:
    """Names of the blueprints of FAB's views of one kind (model screens, REST APIs)."""
    key = f"clinic_blueprints_{kind.__name__}"
    names = current_app.extensions.get(key)
    if names is None:
        views: list[Any] = current_app.appbuilder.baseviews  # type: ignore[attr-defined]
        blueprints = [getattr(view, "blueprint", None) for view in views if isinstance(view, kind)]
        names = {blueprint.name for blueprint in blueprints if blueprint is not None}
        current_app.extensions[key] = names
    return names


# Rison nested deeper than this is no list query (prison's parser recurses: RecursionError).
MAX_RISON_DEPTH = 8


def check_rison() -> None:
    """FAB's ``@rison`` decorator catches only prison's ``ParserException``: a malformed ``q``
    that makes the parser fail otherwise (``q=((((`` or deep nesting: RecursionError) is a 500.
    Parsed once here; anything prison cannot read is refused (400)."""
    value = request.args.get("q")
    if not value or request.blueprint not in _blueprints(BaseApi):
        return
    depth = deepest = 0
    for char in value:
        depth += (char == "(") - (char == ")")
        deepest = max(deepest, depth)
    if deepest > MAX_RISON_DEPTH:
        raise InvalidQuery(_("The query is nested too deeply."), "q")
    try:
        prison.loads(value)
    except prison.decoder.ParserException:
        return  # FAB answers it (and tries it as JSON)
    except Exception:  # noqa: BLE001 - whatever else the parser raises, the text is not rison
        raise InvalidQuery(_("Not a valid rison argument."), "q") from None


def check_list_arguments() -> None:
    """FAB's ``urltools`` read ``page_<View>`` and ``psize_<View>`` with a bare ``int()`` ("abc"
    is a 500), pass numbers past 64 bits to the database as OFFSET/LIMIT (500), and take any
    ``_od_`` direction. Refused here with the argument named (400); filter values and order
    columns are checked by ``ClinicInterface.query``."""
    if request.blueprint not in _blueprints(BaseModelView):
        return
    for name, value in request.args.items():
        if _PAGE.search(name):
            _number(name, value, 0, 10**9)
        elif _PAGE_SIZE.search(name):
            _number(name, value, 1, MAX_PAGE_SIZE)
        elif _ORDER_DIRECTION.match(name) and value not in ("asc", "desc"):
            raise InvalidQuery(_("Sort in the order asc or desc."), name)


def _number(name: str, value: str, low: int, high: int) -> None:
    text = value.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 10 and low <= int(text) <= high):
        raise InvalidQuery(_("Must be between %(low)s and %(high)s.", low=low, high=high), name)


def default_login_provider() -> None:
    """FAB 5.3's login schema (``LoginPost``) leaves ``provider`` optional, and its login endpoint
    then reads ``login_payload["provider"]``: a login without it is a 500 (KeyError). The
    provider this app logs in with is the database: it is filled in when left out."""
    if request.method != "POST" or request.endpoint != "SecurityApi.login" or not request.is_json:
        return
    payload = request.get_json(silent=True)
    if isinstance(payload, dict) and "provider" not in payload:
        payload["provider"] = "db"
