"""The visit summary a patient downloads as PDF (issue 9, item 9): the clinic's header, the
patient, the date and doctor, the complaint, the diagnoses (code and title), the plan, the
prescriptions and the follow-up date. Never the doctor's private notes: it prints a
``VisitDetail`` (``app.services.portal_records``), which does not carry them.

Pure Python: fpdf2 writes the PDF, with the Open Sans font of the ``ttf-opensans`` package
(Apache 2.0; Regular and Bold, the whole Vietnamese range U+1EA0-U+1EF9). The font comes from an
installed package, never from the system, so a machine with nothing but Python prints Vietnamese
with its diacritics ("Chẩn đoán", "Đơn thuốc"). Text is put in Unicode NFC first: the font has
the precomposed letters, and fpdf2 does not shape combining marks without HarfBuzz.

Labels follow the reader's language (Flask-Babel, as the page that offers the download).
"""
from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Any

import ttf_opensans
from flask_babel import get_locale, gettext as _
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from app.services.portal_records import VisitDetail
from app.services.settings import ClinicSettings

FONT = "OpenSans"
MARGIN = 15


def font_files() -> dict[str, str]:
    """fpdf2 style -> TTF path inside the installed ``ttf-opensans`` package."""
    return {"": str(ttf_opensans.OPENSANS_REGULAR.path), "B": str(ttf_opensans.OPENSANS_BOLD.path)}


def numeric_day(day: date) -> str:
    """A date as the reader's language writes it: 20/07/1985 in Vietnamese, 1985-07-20 otherwise;
    every date of the summary, and of the portal's record pages (``record_day``), is written so."""
    return day.strftime("%d/%m/%Y") if str(get_locale() or "en").startswith("vi") else day.isoformat()


def nfc(text: Any) -> str:
    return unicodedata.normalize("NFC", "" if text is None else str(text))


class FooterPdf(FPDF):
    """An A4 page with the footer "<footer_text> · page/pages" (the visit summary, the reports)."""

    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.set_text_color(110)
        self.cell(0, 5, nfc(f"{self.footer_text} · {self.page_no()}/{{nb}}"), align="C")


def a4_pdf(footer_text: str) -> FooterPdf:
    """An empty A4 document with the clinic's margins and the Open Sans faces (Vietnamese text)."""
    pdf = FooterPdf(format="A4")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=18)
    for style, path in font_files().items():
        pdf.add_font(FONT, style, path)
    pdf.footer_text = footer_text
    return pdf


def visit_summary_pdf(visit: VisitDetail, settings: ClinicSettings, printed_at: datetime) -> bytes:
    """The summary of one signed visit as PDF bytes (A4)."""
    local = printed_at.astimezone(settings.timezone)
    pdf = a4_pdf(_("Printed on %(date)s", date=numeric_day(local.date())))
    pdf.set_title(nfc(_("Visit summary")))
    pdf.set_author(nfc(settings.name))
    pdf.set_creator(nfc(settings.name))
    pdf.alias_nb_pages()
    pdf.add_page()
    width = pdf.w - 2 * MARGIN

    # The clinic's header.
    pdf.set_font(FONT, "B", 14)
    pdf.multi_cell(width, 7, nfc(settings.name), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    contact = " · ".join(part for part in (settings.address, settings.phone) if part)
    if contact:
        pdf.set_font(FONT, "", 9)
        pdf.multi_cell(width, 5, nfc(contact), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(160)
    pdf.line(MARGIN, pdf.get_y() + 2, pdf.w - MARGIN, pdf.get_y() + 2)
    pdf.ln(6)
    pdf.set_font(FONT, "B", 16)
    pdf.cell(width, 9, nfc(_("Visit summary")), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)

    def field(label: str, value: Any) -> None:
        pdf.set_font(FONT, "B", 10)
        pdf.cell(45, 6, nfc(label))
        pdf.set_font(FONT, "", 10)
        pdf.multi_cell(width - 45, 6, nfc(value) or "–", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def heading(text: str) -> None:
        pdf.ln(3)
        pdf.set_font(FONT, "B", 12)
        pdf.cell(width, 7, nfc(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FONT, "", 10)

    visit_day = visit.at.astimezone(settings.timezone).date()
    field(_("Patient"), f"{visit.patient_name} ({visit.patient_code})")
    if visit.patient_birth is not None:
        field(_("Date of birth"), numeric_day(visit.patient_birth))
    field(_("Visit date"), numeric_day(visit_day))
    field(_("Doctor"), visit.doctor)

    heading(_("Reason for the visit"))
    pdf.multi_cell(width, 6, nfc(visit.complaint) or "–", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    heading(_("Diagnoses"))
    if visit.diagnoses:
        for diagnosis in visit.diagnoses:
            kind = _("main diagnosis") if diagnosis.primary else _("other diagnosis")
            pdf.set_font(FONT, "B", 10)
            pdf.cell(22, 6, nfc(diagnosis.code))
            pdf.set_font(FONT, "", 10)
            pdf.multi_cell(width - 22, 6, nfc(f"{diagnosis.title} ({kind})"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    else:
        pdf.multi_cell(width, 6, nfc(_("None recorded.")), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    heading(_("Treatment plan"))
    pdf.multi_cell(width, 6, nfc(visit.plan) or "–", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    heading(_("Prescriptions"))
    items = [item for prescription in visit.prescriptions for item in prescription.items]
    if items:
        pdf.set_font(FONT, "", 9)
        with pdf.table(col_widths=(30, 14, 18, 9, 29), text_align="LEFT", line_height=5,
                       first_row_as_headings=True) as table:
            table.row([nfc(t) for t in (_("Medicine"), _("Dose"), _("Frequency"), _("Number of days"),
                                        _("Instructions"))])
            for item in items:
                name = item.medicine + (f" {item.strength}" if item.strength else "")
                quantity = f"{item.quantity} {item.unit}" if item.unit else str(item.quantity)
                table.row([nfc(name + f"\n({quantity})"), nfc(item.dose), nfc(item.frequency), str(item.days),
                           nfc(item.instructions or "")])
        pdf.set_font(FONT, "", 10)
    else:
        pdf.multi_cell(width, 6, nfc(_("No medicines were prescribed at this visit.")), new_x=XPos.LMARGIN,
                       new_y=YPos.NEXT)

    heading(_("Follow-up"))
    follow_up = numeric_day(visit.follow_up) if visit.follow_up else _("No follow-up visit planned.")
    pdf.multi_cell(width, 6, nfc(follow_up), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.ln(6)
    pdf.set_font(FONT, "", 8)
    pdf.set_text_color(110)
    pdf.multi_cell(width, 4, nfc(_("Signed by %(doctor)s on %(date)s. This summary is a copy of the signed record.",
                                   doctor=visit.doctor,
                                   date=numeric_day(visit.signed_at.astimezone(settings.timezone).date()))),
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
