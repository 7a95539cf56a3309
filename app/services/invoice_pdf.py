"""The invoice as a PDF (fpdf2, pure Python, a bundled Unicode font): the clinic's name, address,
phone and tax code, the number and issue date, the patient, lines, discount, VAT, total in figures
and in Vietnamese words ("Bằng chữ: ..."), the payments and status, and the VietQR code while
something is owed.

The font is Open Sans from the installed ``ttf-opensans`` package, as the visit summary's
(``app.services.visit_summary``): no system library, no font file in the repository; text is put
in Unicode NFC so the precomposed Vietnamese letters are used. The QR code is drawn module by
module with rectangles from the ``qrcode`` package's matrix (no image library needed).

Labels follow ``language`` ("vi" or "en", through Flask-Babel's ``force_locale``: needs an
application context); the amount in words is always Vietnamese."""
from __future__ import annotations

from flask_babel import force_locale, gettext as _
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from sqlalchemy.orm import Session

from app.services import invoice_document
from app.services.billing_settings import BillingSettings
from app.services.invoice_document import DRAFT, TITLE, VOID, InvoiceDocument, nfc, qr_matrix
from app.services.settings import ClinicSettings
from app.services.visit_summary import font_files

FONT = "OpenSans"
MARGIN = 15
QR_SIZE = 38  # mm


class _InvoicePdf(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.set_text_color(110)
        self.cell(0, 5, nfc(f"{self.footer_text} · {self.page_no()}/{{nb}}"), align="C")


def render_pdf(session: Session, invoice_id: int, clinic: ClinicSettings, billing: BillingSettings,
               language: str = "vi") -> bytes:
    """The invoice as PDF bytes (A4), its labels in ``language``."""
    document = invoice_document.build(session, invoice_id, clinic, billing, language)
    return document_pdf(document)


def document_pdf(doc: InvoiceDocument) -> bytes:
    with force_locale(doc.language):
        return _draw(doc)


def _draw(doc: InvoiceDocument) -> bytes:
    pdf = _InvoicePdf(format="A4")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=18)
    for style, path in font_files().items():
        pdf.add_font(FONT, style, path)
    number = doc.number or DRAFT
    pdf.footer_text = f"{TITLE} {number}"
    pdf.set_title(nfc(f"{TITLE} {number}"))
    pdf.set_author(doc.clinic_name)
    pdf.set_creator(doc.clinic_name)
    pdf.set_lang(doc.language)
    pdf.alias_nb_pages()
    pdf.add_page()
    width = pdf.w - 2 * MARGIN
    right_width = 72
    left_width = width - right_width - 4

    # The clinic (left) and the invoice's number and date (right).
    top = pdf.get_y()
    pdf.set_font(FONT, "B", 13)
    pdf.multi_cell(left_width, 6, doc.clinic_name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 9)
    for label, value in ((_("Address"), doc.clinic_address), (_("Phone"), doc.clinic_phone),
                         (_("Tax code"), doc.tax_code)):
        if value:
            pdf.multi_cell(left_width, 4.6, nfc(f"{label}: {value}"), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    left_bottom = pdf.get_y()
    pdf.set_xy(MARGIN + width - right_width, top)
    pdf.set_font(FONT, "", 9)
    for label, value in ((_("Invoice no."), number), (_("Date"), doc.issue_day), (_("Status"), doc.status_label)):
        pdf.set_x(MARGIN + width - right_width)
        pdf.set_font(FONT, "", 9)
        pdf.cell(24, 5, nfc(f"{label}:"))
        pdf.set_font(FONT, "B", 9)
        pdf.multi_cell(right_width - 24, 5, nfc(value), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(left_bottom, pdf.get_y()))
    pdf.set_draw_color(160)
    pdf.line(MARGIN, pdf.get_y() + 2, pdf.w - MARGIN, pdf.get_y() + 2)
    pdf.ln(5)

    pdf.set_font(FONT, "B", 16)
    pdf.cell(width, 9, TITLE, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if doc.is_draft:
        pdf.set_text_color(190, 0, 0)
        pdf.set_font(FONT, "B", 12)
        pdf.cell(width, 7, DRAFT, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0)
    if doc.is_void:
        pdf.set_text_color(190, 0, 0)
        pdf.set_draw_color(190, 0, 0)
        pdf.set_font(FONT, "B", 15)
        pdf.cell(width, 9, VOID, align="C", border=1, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0)
        pdf.set_draw_color(160)
        if doc.void_reason:
            pdf.set_font(FONT, "", 10)
            pdf.multi_cell(width, 5.5, nfc(_("Reason: %(reason)s", reason=doc.void_reason)), align="C",
                           new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)

    # The patient.
    def field(label: str, value: str) -> None:
        pdf.set_font(FONT, "B", 10)
        pdf.cell(38, 5.5, nfc(label))
        pdf.set_font(FONT, "", 10)
        pdf.multi_cell(width - 38, 5.5, nfc(value) or "–", align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    field(_("Patient"), doc.patient_name)
    field(_("Patient code"), doc.patient_code)
    if doc.patient_phone:
        field(_("Phone"), doc.patient_phone)
    if doc.patient_address:
        field(_("Address"), doc.patient_address)
    pdf.ln(3)

    # The lines.
    pdf.set_font(FONT, "", 9)
    with pdf.table(col_widths=(6, 58, 12, 26, 16, 28), text_align=("RIGHT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
                   line_height=5, first_row_as_headings=True) as table:
        table.row([nfc(t) for t in ("#", _("Description"), _("Qty"), _("Unit price"), _("VAT"), _("Amount"))])
        for index, line in enumerate(doc.lines, start=1):
            table.row([str(index), line.description, line.quantity, line.unit_price, line.vat, line.amount])
    pdf.ln(3)

    # The totals, right-aligned.
    def total(label: str, value: str, bold: bool = False, note: str | None = None) -> None:
        pdf.set_font(FONT, "B" if bold else "", 11 if bold else 10)
        pdf.cell(width - 45, 6, nfc(label), align="R")
        pdf.cell(45, 6, nfc(value), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if note:
            pdf.set_font(FONT, "", 8)
            pdf.set_text_color(90)
            pdf.multi_cell(width, 4, nfc(note), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.set_text_color(0)

    total(_("Subtotal"), doc.subtotal)
    if doc.discount:
        total(doc.discount_label, f"-{doc.discount}",
              note=_("Reason: %(reason)s", reason=doc.discount_reason) if doc.discount_reason else None)
    total(_("VAT"), doc.tax)
    total(_("Total"), doc.total, bold=True)
    pdf.ln(1)
    pdf.set_font(FONT, "B", 10)
    label = "Bằng chữ" if doc.language == "vi" else "In words (Bằng chữ)"
    pdf.multi_cell(width, 5.5, nfc(f"{label}: {doc.words}."), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)

    # Payments and what is still owed.
    if doc.payments:
        pdf.set_font(FONT, "B", 11)
        pdf.cell(width, 7, nfc(_("Payments")), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FONT, "", 9)
        with pdf.table(col_widths=(25, 35, 30, 25, 30), text_align=("LEFT", "LEFT", "RIGHT", "LEFT", "RIGHT"),
                       line_height=5, first_row_as_headings=True) as table:
            table.row([nfc(t) for t in (_("Date"), _("Method"), _("Amount"), _("Status"), _("Refunded"))])
            for payment in doc.payments:
                table.row([payment.day, payment.method, payment.amount, payment.status, payment.refunded or ""])
        pdf.ln(2)
    if doc.refunds:
        pdf.set_font(FONT, "B", 11)
        pdf.cell(width, 7, nfc(_("Refunds")), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FONT, "", 9)
        with pdf.table(col_widths=(25, 35, 30, 55), text_align=("LEFT", "LEFT", "RIGHT", "LEFT"),
                       line_height=5, first_row_as_headings=True) as table:
            table.row([nfc(t) for t in (_("Date"), _("Method"), _("Amount"), _("Reason"))])
            for refund in doc.refunds:
                table.row([refund.day, refund.method, f"-{refund.amount}", refund.reason])
        pdf.ln(2)
    if not doc.is_void:
        total(_("Paid"), doc.paid)
        if doc.refunded and doc.net_received:
            total(_("Refunded"), f"-{doc.refunded}")
            total(_("Net received"), doc.net_received, bold=True)
    if doc.shows_balance:
        total(_("Balance due"), doc.balance, bold=True)

    if doc.qr is not None:
        _draw_qr(pdf, doc, width)
    return bytes(pdf.output())


def _draw_qr(pdf: FPDF, doc: InvoiceDocument, width: float) -> None:
    assert doc.qr is not None
    if pdf.get_y() + QR_SIZE + 12 > pdf.h - 18:
        pdf.add_page()
    pdf.ln(5)
    top = pdf.get_y()
    matrix = qr_matrix(doc.qr.payload)
    module = QR_SIZE / len(matrix)
    pdf.set_fill_color(0)
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):  # one rectangle per run of dark modules
            if not row[x]:
                x += 1
                continue
            start = x
            while x < len(row) and row[x]:
                x += 1
            pdf.rect(MARGIN + start * module, top + y * module, (x - start) * module, module, style="F")
    pdf.set_xy(MARGIN + QR_SIZE + 5, top + 3)
    text_width = width - QR_SIZE - 5
    pdf.set_font(FONT, "B", 11)
    pdf.multi_cell(text_width, 6, nfc(_("Pay by bank transfer: scan with your banking app")),
                   new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 10)
    for label, value in ((_("Amount"), doc.qr.amount), (_("Reference"), doc.qr.reference),
                         (_("Bank"), doc.qr.bank), (_("Account"), doc.qr.account),
                         (_("Account holder"), doc.qr.account_name)):
        if value:
            pdf.multi_cell(text_width, 5.5, nfc(f"{label}: {value}"), align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_y(max(pdf.get_y(), top + QR_SIZE))
