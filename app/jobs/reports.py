"""The monthly report by e-mail (``app.services.reports.send_monthly_if_due``): a periodic job
(``app.jobs.periodic``, hourly) that on the 1st of the month sends last month's report to
``REPORT_RECIPIENTS``, once per address and month."""
from __future__ import annotations


def send_monthly() -> int:
    """Send last month's report if today is the 1st and it was not sent yet; how many addresses."""
    from app.extensions import db, mail
    from app.jobs.context import app_context
    from app.models.types import utcnow
    from app.services.reports import send_monthly_if_due

    with app_context() as app:
        session = db.session.session_factory()
        try:
            sent = send_monthly_if_due(session, config=app.config, mail=mail, now=utcnow())
        finally:
            session.close()
    return len(sent)
