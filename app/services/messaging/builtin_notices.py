"""A message whose text was written when it was queued (``params`` holds ``subject`` and ``text``,
optionally ``html``): for staff resends and the simplest notices."""
from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from app.models import OutboundMessage
from app.services.messaging.render import Rendered, renderer


@renderer("plain")
def render_plain(session: Session, message: OutboundMessage, config: Mapping) -> Rendered:
    params = message.params or {}
    text = str(params.get("text") or "")
    return Rendered(subject=str(params.get("subject") or ""), text=text, html=params.get("html"),
                    short_text=str(params.get("short_text") or text))
