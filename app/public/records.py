"""The patient's own medical record in the portal: my visits, one visit and its summary PDF, my
results, my files (issue 9, item 9). Thin: what a patient may see is decided in
``app.services.portal_records`` (through the access helper, every read audited); another
patient's id, a draft or an unreleased result is "not found" (404), never "forbidden"."""
from __future__ import annotations

import io
from datetime import date, datetime, timedelta

from flask import abort, current_app, redirect, render_template, request, send_file
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.errors import refusal_in_layout
from app.extensions import db
from app.models import Patient
from app.public.common import bp, local, patient_required, settings
from app.services import portal_records
from app.services.errors import NotFound
from app.services.storage import StorageUnavailable, file_store
from app.services.visit_summary import numeric_day, visit_summary_pdf

DOWNLOAD_LINK_MINUTES = 5  # a cloud store's signed address, used at once by the redirect
MAX_PAGE = 10_000


def _private(response):
    """Medical records are not kept by shared caches or the browser's back-forward store."""
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/me/visits")
@patient_required
def my_visits(patient: Patient) -> ResponseReturnValue:
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)
    visits = portal_records.signed_visits(db.session, current_user, patient.id, settings().now(), page)
    return _private(current_app.make_response(render_template(
        "public/records/visits.html", patient=patient, listing=visits, section="visits")))


@bp.get("/me/visits/<int:encounter_id>")
@patient_required
def my_visit(patient: Patient, encounter_id: int) -> ResponseReturnValue:
    try:
        visit = portal_records.visit_detail(db.session, current_user, patient.id, encounter_id, settings().now())
    except NotFound:
        abort(404)
    return _private(current_app.make_response(render_template(
        "public/records/visit.html", patient=patient, visit=visit, section="visits")))


@bp.get("/me/visits/<int:encounter_id>/summary.pdf")
@patient_required
def visit_summary(patient: Patient, encounter_id: int) -> ResponseReturnValue:
    now = settings().now()
    try:
        visit = portal_records.visit_detail(db.session, current_user, patient.id, encounter_id, now)
    except NotFound:
        abort(404)
    pdf = visit_summary_pdf(visit, settings(), now)
    day = visit.at.astimezone(settings().timezone).date().isoformat()
    return _private(send_file(io.BytesIO(pdf), mimetype="application/pdf", as_attachment=True,
                              download_name=f"visit-summary-{day}-{visit.id}.pdf"))


@bp.get("/me/results")
@patient_required
def my_results(patient: Patient) -> ResponseReturnValue:
    groups = portal_records.released_results(db.session, current_user, patient.id, settings().now())
    return _private(current_app.make_response(render_template(
        "public/records/results.html", patient=patient, groups=groups, section="results")))


@bp.get("/me/results/<int:result_id>")
@patient_required
def my_result(patient: Patient, result_id: int) -> ResponseReturnValue:
    try:
        detail = portal_records.result_detail(db.session, current_user, patient.id, result_id, settings().now())
    except NotFound:
        abort(404)
    return _private(current_app.make_response(render_template(
        "public/records/result.html", patient=patient, detail=detail, section="results")))


@bp.get("/me/files")
@patient_required
def my_files(patient: Patient) -> ResponseReturnValue:
    files = portal_records.patient_files(db.session, current_user, patient.id, settings().now())
    return _private(current_app.make_response(render_template(
        "public/records/files.html", patient=patient, files=files, section="files")))


@bp.get("/me/files/<int:attachment_id>")
@patient_required
def download_file(patient: Patient, attachment_id: int) -> ResponseReturnValue:
    """The file itself, after the access check: a cloud store's short-lived signed address
    (a redirect), or the bytes from local disk streamed by the app."""
    try:
        attachment = portal_records.open_file(db.session, current_user, patient.id, attachment_id, settings().now())
    except NotFound:
        abort(404)
    store = file_store(current_app.config)
    try:
        url = store.url(attachment.storage_key, attachment.file_name, attachment.content_type,
                        timedelta(minutes=DOWNLOAD_LINK_MINUTES))
        if url is not None:
            return _private(redirect(url, 302))
        data = store.get(attachment.storage_key)
    except (FileNotFoundError, KeyError):
        abort(404)
    except (StorageUnavailable, OSError):
        return refusal_in_layout(503, _("File not available"),
                                 _("The file store cannot be reached just now. Please try again later."),
                                 _("Try again"))
    return _private(send_file(io.BytesIO(data), mimetype=attachment.content_type, as_attachment=True,
                              download_name=attachment.file_name))


@bp.app_template_filter("flag_word")
def flag_word(flag: str | None) -> str:
    """A result's flag in words (the page also marks it with colour, never only with colour)."""
    words = {"low": _("Below the normal range"), "high": _("Above the normal range"),
             "critical": _("Critical value: talk to your doctor"), "normal": _("Within the normal range")}
    return words.get(flag or "", "")


@bp.app_template_filter("record_day")
def record_day(value: date | datetime | None) -> str:
    """A day of the record as the reader writes dates, the same on every page and in the PDF:
    02/12/2026 in Vietnamese, 2026-12-02 otherwise (an instant: its day in the clinic's zone)."""
    if value is None:
        return ""
    return numeric_day(local(value).date() if isinstance(value, datetime) else value)


@bp.app_template_filter("file_size")
def file_size(size: int) -> str:
    from flask_babel import format_decimal

    if size < 1024:
        return _("%(n)s bytes", n=size)
    if size < 1024 * 1024:
        return _("%(n)s KB", n=format_decimal(round(size / 1024, 1)))
    return _("%(n)s MB", n=format_decimal(round(size / 1024 / 1024, 1)))
