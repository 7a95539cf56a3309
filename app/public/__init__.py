"""The public site (/clinic), one module per group of pages: the catalogue (services, doctors),
online booking, the patient portal (own appointments; own visits, results and files: records), the
account (sign-up, language). Thin: every read and rule is in app.services; domain errors become
messages on the page, never a 500."""
from app.public import (  # noqa: F401  (their routes, on bp)
    account,
    appointment_links,
    booking,
    catalogue,
    chat,
    invoices,
    notifications,
    portal,
    profile,
    records,
    reviews,
    search,
)
from app.public.common import bp

__all__ = ["bp"]
