"""The laboratory's pages (issue 9, item 7): the worklist (``/lab/``: orders to collect and to
result, by status, search by patient), one order's result entry form (``/lab/order/<id>``: every
analyte of the test in one form, every broken value shown at once, release to the patient), and
the visit's lab section fragment that ``static/js/visit_labs.js`` reloads after a change.
Thin: the rules are in ``app.services.lab``."""
from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length

from app.extensions import db
from app.fab.actor import acting_user
from app.models.types import utcnow
from app.services import encounters, lab
from app.services.errors import DomainError, ValidationFailed
from app.views.fields import format_choice, format_moment, user_language

STATUS_FILTERS = {
    "open": _l("To collect or to result"), "ordered": _l("To collect"), "collected": _l("Collected"),
    "in_progress": _l("Preliminary results"), "completed": _l("Completed"), "cancelled": _l("Cancelled"),
    "all": _l("All"),
}
RESULT_STAGES = {"preliminary": _l("Preliminary"), "final": _l("Final"), "corrected": _l("Correction")}


def may_write_results() -> bool:
    return bool(current_app.appbuilder.sm.has_access("can_write", "LabResult"))  # type: ignore[attr-defined]


def result_form(lines: list[lab.AnalyteLine], stage: str | None) -> FlaskForm:
    """One text field per analyte (``a0``, ``a1``...), labelled with the analyte's name, and the
    stage to record: preliminary or final before the results are final, a correction after."""

    class ResultForm(FlaskForm):
        pass

    for index, line in enumerate(lines):
        setattr(ResultForm, f"a{index}", StringField(line.name, validators=[Length(max=lab.VALUE_MAX_LENGTH)]))
    choices = [("corrected", RESULT_STAGES["corrected"])] if stage in ("final", "corrected") else \
        [("preliminary", RESULT_STAGES["preliminary"]), ("final", RESULT_STAGES["final"])]
    ResultForm.status = SelectField(_l("Stage"), choices=choices, default=choices[-1][0] if stage else "final")
    return ResultForm()


class LabView(BaseView):
    route_base = "/lab"
    default_view = "worklist"
    class_permission_name = "LabResult"
    method_permission_name = {"worklist": "read", "order": "read", "release": "write", "collect": "write",
                              "visit_section": "read"}

    @expose("/")
    @has_access
    def worklist(self) -> ResponseReturnValue:
        status = request.args.get("status", "open")
        if status not in STATUS_FILTERS:
            status = "open"
        search = (request.args.get("q") or "").strip()[:100]
        items = lab.worklist(db.session, acting_user(), utcnow(), status=status, search=search or None)
        return self.render_template("clinic/lab/worklist.html", items=items, status=status, search=search,
                                    filters=STATUS_FILTERS, local=format_moment, label=format_choice,
                                    can_write=may_write_results())

    @expose("/order/<int:order_id>", methods=["GET", "POST"])
    @has_access
    def order(self, order_id: int) -> ResponseReturnValue:
        user, now = acting_user(), utcnow()
        order = lab.open_order(db.session, order_id, user, now)
        lines = lab.analyte_lines(db.session, order, now.date())
        stage = lab.order_result_status(order)
        can_write = may_write_results() and order.status != "cancelled"
        form = result_form(lines, stage)
        fields = [getattr(form, f"a{index}") for index in range(len(lines))]
        status = 200
        critical_pending: list[str] = []
        if request.method == "POST":
            if not can_write:
                abort(403)
            if form.validate_on_submit():
                values = {line.name: field.data for line, field in zip(lines, fields, strict=True)}
                try:
                    lab.enter_results(db.session, order_id, values, form.status.data, user, now,
                                      confirm_critical=request.form.get("confirm_critical") == "1")
                except lab.CriticalNotConfirmed as exc:
                    db.session.rollback()
                    critical_pending = exc.analytes
                    status = 422
                except ValidationFailed as exc:
                    db.session.rollback()
                    errors = exc.errors if isinstance(exc, lab.ValuesRefused) else {exc.field or "": exc.message}
                    by_name = dict(zip((line.name for line in lines), fields, strict=True))
                    for name, message in errors.items():
                        target = by_name.get(name)
                        if target is not None:
                            target.errors = [*target.errors, message]
                        else:
                            form.form_errors.append(message)
                    status = 422
                except DomainError as exc:
                    db.session.rollback()
                    form.form_errors.append(exc.message)
                    status = 409
                else:
                    flash(_("Results saved."), "success")
                    return redirect(url_for("LabView.order", order_id=order_id), 303)
            else:
                status = 422
        elif can_write:
            for line, field in zip(lines, fields, strict=True):
                if line.result is not None:
                    field.data = line.result.value
        releasable = stage in ("final", "corrected") and any(not r.released_to_patient for r in order.results)
        return self.render_template(
            "clinic/lab/order.html", order=order, patient=order.patient, lines=lines,
            rows=list(zip(lines, fields, strict=True)),
            form=form, stage=stage, can_write=can_write, releasable=releasable, local=format_moment,
            label=format_choice, age=lab.age_in_years(order.patient.date_of_birth, now.date()),
            attachments_partial=_attachments_partial(), critical_pending=critical_pending), status

    @expose("/order/<int:order_id>/release", methods=["POST"])
    @has_access
    def release(self, order_id: int) -> ResponseReturnValue:
        try:
            released = lab.release_results(db.session, order_id, acting_user(), utcnow())
        except DomainError as exc:
            db.session.rollback()
            if exc.status == 403:
                raise
            flash(exc.message, "danger")
        else:
            flash(_("%(n)s results released to the patient.", n=len(released)), "success")
        return redirect(url_for("LabView.order", order_id=order_id), 303)

    @expose("/order/<int:order_id>/collect", methods=["POST"])
    @has_access
    def collect(self, order_id: int) -> ResponseReturnValue:
        try:
            lab.mark_collected(db.session, order_id, acting_user(), utcnow())
        except DomainError as exc:
            db.session.rollback()
            if exc.status == 403:
                raise
            flash(exc.message, "danger")
        else:
            flash(_("Sample collected."), "success")  # the new status, once the button was pressed
        back = request.form.get("back")
        if back == "worklist":
            return redirect(url_for("LabView.worklist"), 303)
        return redirect(url_for("LabView.order", order_id=order_id), 303)

    @expose("/visit/<int:encounter_id>/section")
    @has_access
    def visit_section(self, encounter_id: int) -> ResponseReturnValue:
        """The visit's lab orders as an HTML fragment (the section's list, reloaded by its script)."""
        user = acting_user()
        encounter = encounters.open_encounter(db.session, encounter_id, user, utcnow())
        return self.render_template("clinic/visit/_labs_orders.html", encounter=encounter, **section_context(
            encounter, encounters.is_editable(db.session, encounter, user)))

def _attachments_partial() -> str | None:
    """The files engineer's partial for a result's attachments, once it exists."""
    name = "clinic/files/_attachments.html"
    try:
        current_app.jinja_env.get_template(name)
    except Exception:  # noqa: BLE001 - TemplateNotFound: not built yet
        return None
    return name


def section_context(encounter: Any, editable: bool) -> dict[str, Any]:
    """What the visit's lab section shows: the orders with their results, whether each may be
    cancelled by the reader now, and (while the visit is editable) the catalogue to order from.
    A Jinja global (``lab_section``) so that the workspace's include needs nothing from its view."""
    user = acting_user()
    orders = lab.orders_of_encounter(db.session, encounter.id)
    may_order = editable and bool(current_app.appbuilder.sm.has_access(  # type: ignore[attr-defined]
        "can_write", "LabOrder"))
    tests = [{"code": t.code, "name": t.name, "specimen": t.specimen or ""}
             for t in lab.catalogue(db.session)] if may_order else []
    ordered = {order.test_code for order in orders if order.status != "cancelled"}
    return {"lab_orders": orders, "may_order": may_order, "lab_catalogue": tests, "lab_ordered": sorted(ordered),
            "cancellable": {order.id: may_order and lab.cancel_rule(db.session, order, user) is None
                            for order in orders},
            "label": format_choice, "local": format_moment}


def localized_range(text: str | None) -> str:
    """A stored range ("3.9–6.4") in the reader's decimal mark ("3,9–6,4" in Vietnamese)."""
    if not text:
        return ""
    return text.replace(".", ",") if user_language() == "vi" else text


def register_lab_globals(app: Any) -> None:
    app.jinja_env.globals["lab_section"] = section_context
    app.jinja_env.filters["lab_range"] = localized_range
