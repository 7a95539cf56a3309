"""The invoice as a PDF (fpdf2, pure Python, a bundled Unicode font): the clinic's name, address
and tax code, the patient, lines, discount, VAT, total in figures and in Vietnamese words
("Bằng chữ: ..."), payment status, and the VietQR code while unpaid.

Shell (issue 11): the documents part fills ``render_pdf``."""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.services.billing_settings import BillingSettings
from app.services.settings import ClinicSettings


def render_pdf(session: Session, invoice_id: int, clinic: ClinicSettings, billing: BillingSettings,
               language: str = "vi") -> bytes:
    raise NotImplementedError
