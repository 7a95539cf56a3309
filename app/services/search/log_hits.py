"""Log events in the search box, for admins (issue 16, item 4).

Log events are not copied into the search index: they are already kept, with their own indexes,
in the document store (``app.services.log_events``; a trigram index on the message on PostgreSQL,
MongoDB's own), and a busy clinic writes far more of them than of every other kind together. So
the box asks the store itself: a pasted request id opens that request, other text is a
case-insensitive substring of the message, as in the log viewer, newest first. Each hit opens
the request it belongs to (every event of it, with its audit rows), or the viewer filtered by
the text when the event had no request."""
from __future__ import annotations

import logging
from datetime import tzinfo
from typing import Any
from urllib.parse import quote, urlencode

from flask_babel import lazy_gettext as _l

from app.services import log_events
from app.services.documents import DocumentStore
from app.services.search.kinds import Result

log = logging.getLogger(__name__)

LOGS = "logs"
LABEL = _l("Log events")
PERMISSION = "LogEvent"  # the log viewer's resource: only a role that reads the viewer searches logs
MIN_LENGTH = 3  # shorter text matches most events: not worth a scan on every keystroke
TITLE_MAX = 160


def _result(index: int, event: dict[str, Any], zone: tzinfo) -> Result:
    moment = event.get("created_at")
    when = moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment is not None else ""
    where = " ".join(str(part) for part in (event.get("method"), event.get("route"), event.get("status"))
                     if part not in (None, ""))
    detail = " · ".join(part for part in (when, str(event.get("level") or ""), where or str(event.get("job") or ""))
                        if part)
    request_id = event.get("request_id")
    if request_id and log_events.is_request_id(str(request_id)):
        url = f"/logs/request/{quote(str(request_id), safe='')}"
    else:
        url = "/logs/?" + urlencode({"text": str(event.get("message") or "")[:log_events.TEXT_MAX]})
    title = str(event.get("message") or "")
    if len(title) > TITLE_MAX:
        title = title[:TITLE_MAX - 1] + "…"
    return Result(LOGS, index, title, detail, url)


def log_results(store: DocumentStore, text: str, *, limit: int, zone: tzinfo) -> list[Result]:
    """Up to ``limit`` events ``text`` finds: the events of the request it names when it is a
    request id with events, else the newest whose message holds it. A store that does not answer
    leaves the group out (the other kinds are still shown)."""
    text = " ".join(text.split())[:log_events.TEXT_MAX]
    if len(text) < MIN_LENGTH:
        return []
    try:
        events: list[dict[str, Any]] = []
        if log_events.is_request_id(text):
            events = log_events.search_log_events(store, log_events.LogFilters(request_id=text), limit=limit)
        if not events:
            events = log_events.search_log_events(store, log_events.LogFilters(text=text), limit=limit)
    except Exception as exc:  # noqa: BLE001 - the store down (MongoDB gone): the search goes on without logs
        log.warning("search: the log store did not answer: %s", type(exc).__name__)
        return []
    return [_result(index, event, zone) for index, event in enumerate(events)]
