"""The pharmacy's own pages under /pharmacy: the dispensing queue, the dispense page (FEFO plan
before confirming, shortfall, returns), stock on hand, the dashboard, a medicine's page with its
usage chart, stock adjustment, goods receipts (and the printable receipt). Thin: each reads the
form, calls one service, and shows its answer. One permission, the stock's (``StockBatch``)."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.fab.actor import acting_user, acting_user_id
from app.fab.hooks import clinic_settings
from app.models import Medicine, Prescription, StockBatch, Supplier
from app.models.types import utcnow
from app.services import access, dispensing, receiving, stock, stock_views
from app.services.errors import DomainError, NotFound
from app.services.pharmacy_settings import PharmacyPolicy
from app.services.stock import StockRefused
from app.views.fields import (
    date_example,
    format_day,
    format_decimal_input,
    format_moment,
    format_money,
    parse_date,
    user_language,
)

ADJUST_REASON_LABELS = {"count_correction": _l("Count correction"), "damage": _l("Damage"), "loss": _l("Loss"),
                        "expiry_write_off": _l("Expiry write-off")}
STATUS_LABELS = {"issued": _l("Issued"), "partially_dispensed": _l("Partly dispensed"), "dispensed": _l("Dispensed")}
KIND_LABELS = {"receipt": _l("Receipt"), "dispense": _l("Dispense"), "adjustment": _l("Adjustment"),
               "expiry_write_off": _l("Expiry write-off"), "return": _l("Return")}
RECEIPT_ROWS = 6
QUEUE_DAYS = (7, 30, 90)  # the queue's age filter; "all" too
DEFAULT_QUEUE_DAYS = 30


def format_amount(value: float | None, places: int = 1) -> str:
    """A figure such as the use per day, rounded, in the reader's language (0,5 in Vietnamese)."""
    if value is None:
        return ""
    return format_decimal_input(round(value, places), user_language()) or "0"


def policy() -> PharmacyPolicy:
    return PharmacyPolicy.from_config(current_app.config)


def today() -> date:
    return dispensing.clinic_today(utcnow(), clinic_settings())


def _whole(text: str | None) -> tuple[int | None, str | None]:
    """A typed whole number: (value, None), (None, None) when empty, (None, message) when not a number."""
    text = (text or "").strip().replace(".", "").replace(" ", "")
    if not text:
        return None, None
    try:
        return int(text), None
    except ValueError:
        return None, _("Enter a whole number.")


def _errors_of(exc: DomainError) -> dict[str, str]:
    if isinstance(exc, StockRefused):
        return dict(exc.errors)
    return {exc.field or "_": exc.message}


class PharmacyView(BaseView):
    route_base = "/pharmacy"
    default_view = "queue"
    class_permission_name = "StockBatch"
    method_permission_name = {"queue": "write", "dispense": "write", "return_item": "write", "adjust": "write",
                              "receive": "write", "receipt": "read", "stock": "read", "dashboard": "read",
                              "medicine": "read"}

    def _page(self, template: str, **context: Any) -> str:
        return self.render_template(f"clinic/pharmacy/{template}", status_labels=STATUS_LABELS,
                                    kind_labels=KIND_LABELS, reason_labels=ADJUST_REASON_LABELS, fmt_day=format_day,
                                    fmt_time=format_moment, fmt_money=format_money, fmt_amount=format_amount,
                                    **context)

    # ---- the queue and dispensing --------------------------------------------------------

    @expose("/queue")
    @has_access
    def queue(self) -> ResponseReturnValue:
        search = (request.args.get("q") or "").strip()[:100]
        days = request.args.get("days") or str(DEFAULT_QUEUE_DAYS)
        if days != "all" and days not in {str(n) for n in QUEUE_DAYS}:
            days = str(DEFAULT_QUEUE_DAYS)
        now = utcnow()
        since = None if days == "all" else now - timedelta(days=int(days))
        rows = stock_views.dispensing_queue(db.session, acting_user(), now, today(), search=search or None,
                                            region=clinic_settings().phone_region, since=since)
        return self._page("queue.html", rows=rows, search=search, days=days, day_choices=QUEUE_DAYS)

    def _dispense_context(self, prescription: Prescription) -> dict[str, Any]:
        day = today()
        items = sorted(prescription.items, key=lambda i: i.id)
        medicine_ids = [i.medicine_id for i in items]
        batches: dict[int, list[StockBatch]] = {m: [] for m in medicine_ids}
        for batch in db.session.execute(select(StockBatch).where(
                StockBatch.medicine_id.in_(medicine_ids), StockBatch.quantity > 0)
                .order_by(StockBatch.expiry_date, StockBatch.id)).scalars():
            batches[batch.medicine_id].append(batch)
        in_stock = stock_views.usable_stock(db.session, medicine_ids, day)
        returnable = {i.id: sum(r.quantity for r in dispensing.returnable(db.session, i.id, utcnow(), policy()))
                      for i in items if i.dispensed_quantity}
        return {"prescription": prescription, "code": stock_views.prescription_code(prescription.id),
                "items": items, "batches": batches, "in_stock": in_stock, "today": day, "returnable": returnable,
                "dispensable": prescription.status in dispensing.DISPENSABLE}

    @expose("/dispense/<int:prescription_id>", methods=["GET", "POST"])
    @has_access
    def dispense(self, prescription_id: int) -> ResponseReturnValue:
        prescription = db.session.get(Prescription, prescription_id)
        if prescription is None or prescription.status == "draft":
            raise NotFound(_("No such prescription."))
        access.open_record(db.session, acting_user(), prescription, utcnow())
        context = self._dispense_context(prescription)
        typed: dict[str, str] = {}
        errors: dict[str, str] = {}
        plan = None
        if request.method == "POST":
            typed = {k: v for k, v in request.form.items() if k != "csrf_token"}
            quantities: dict[int, int | None] = {}
            choices: dict[int, dispensing.BatchChoice] = {}
            for item in context["items"]:
                if item.quantity - item.dispensed_quantity <= 0:
                    continue
                value, problem = _whole(typed.get(f"qty_{item.id}"))
                if problem:
                    errors[f"quantities.{item.id}"] = problem
                elif value is not None:
                    quantities[item.id] = value
                batch_id, _problem = _whole(typed.get(f"batch_{item.id}"))
                if batch_id:
                    choices[item.id] = dispensing.BatchChoice(batch_id, typed.get(f"reason_{item.id}", ""))
            if not errors and not quantities:
                errors["_"] = _("Enter a quantity for at least one item.")
            if not errors:
                try:
                    if request.form.get("action") == "confirm":
                        result = dispensing.dispense_prescription(
                            db.session, prescription_id, quantities, acting_user_id(), utcnow(), choices,
                            policy=policy(), clinic=clinic_settings())
                        message = _("Dispensed: %(items)s.", items="; ".join(
                            f"{p.medicine} {p.taken} {p.unit}" for p in result.items if p.taken)) \
                            if result.dispensed else _("Nothing was dispensed.")
                        short = [f"{p.medicine} {p.shortfall} {p.unit}" for p in result.items if p.shortfall]
                        if short:
                            message += " " + _("Short: %(items)s; those items stay partly dispensed.",
                                               items="; ".join(short))
                        flash(message, "warning" if result.shortfall else "success")
                        return redirect(url_for("PharmacyView.dispense", prescription_id=prescription_id))
                    plan = dispensing.preview_dispense(db.session, prescription_id, quantities, utcnow(),
                                                       policy=policy(), clinic=clinic_settings(),
                                                       batch_choices=choices)
                except DomainError as exc:
                    db.session.rollback()
                    errors = _errors_of(exc)
                    context = self._dispense_context(db.session.get(Prescription, prescription_id))
        return self._page("dispense.html", typed=typed, errors=errors, plan=plan, **context), (
            422 if errors else 200)

    @expose("/return/<int:item_id>", methods=["POST"])
    @has_access
    def return_item(self, item_id: int) -> ResponseReturnValue:
        value, problem = _whole(request.form.get("quantity"))
        prescription_id = request.form.get("prescription_id", type=int)
        try:
            if problem:
                raise StockRefused({"quantity": problem})
            dispensing.return_dispense(db.session, item_id, value or 0, request.form.get("reason", ""),
                                       acting_user_id(), utcnow(), policy=policy(), clinic=clinic_settings())
            flash(_("Returned %(n)s units to stock.", n=value), "success")
        except DomainError as exc:
            db.session.rollback()
            flash(" ".join(_errors_of(exc).values()), "danger")
        if prescription_id:
            return redirect(url_for("PharmacyView.dispense", prescription_id=prescription_id))
        return redirect(url_for("PharmacyView.queue"))

    # ---- stock ------------------------------------------------------------------------------

    @expose("/stock")
    @has_access
    def stock(self) -> ResponseReturnValue:
        search = (request.args.get("q") or "").strip()[:100]
        below = request.args.get("below") == "1"
        rows = stock_views.medicine_stock(db.session, today(), policy(), below_reorder=below, search=search or None)
        return self._page("stock.html", rows=rows, search=search, below=below)

    @expose("/dashboard")
    @has_access
    def dashboard(self) -> ResponseReturnValue:
        return self._page("dashboard.html", alerts=stock_views.pharmacy_alerts(db.session, today(), policy()),
                          policy=policy())

    @expose("/medicine/<int:medicine_id>")
    @has_access
    def medicine(self, medicine_id: int) -> ResponseReturnValue:
        medicine = db.session.get(Medicine, medicine_id)
        if medicine is None:
            raise NotFound(_("No such medicine."))
        day = today()
        rows = stock_views.medicine_stock(db.session, day, policy(), medicine_ids=[medicine_id])
        row = rows[0] if rows else None
        batches = db.session.execute(select(StockBatch).where(StockBatch.medicine_id == medicine_id)
                                     .order_by(StockBatch.expiry_date, StockBatch.id)).scalars().all()
        usage = stock_views.daily_usage(db.session, medicine_id, day - timedelta(days=90))
        return self._page("medicine.html", medicine=medicine, row=row, batches=batches, today=day,
                          ledger=stock_views.medicine_ledger(db.session, medicine_id, acting_user(), utcnow()),
                          chart=_usage_chart(usage, day), may_adjust=self._may_write())

    def _may_write(self) -> bool:
        return bool(self.appbuilder.sm.has_access("can_write", "StockBatch"))

    @expose("/adjust/<int:batch_id>", methods=["GET", "POST"])
    @has_access
    def adjust(self, batch_id: int) -> ResponseReturnValue:
        batch = db.session.get(StockBatch, batch_id)
        if batch is None:
            raise NotFound(_("No such stock batch."))
        typed: dict[str, str] = {}
        errors: dict[str, str] = {}
        if request.method == "POST":
            typed = {k: v for k, v in request.form.items() if k != "csrf_token"}
            delta, problem = _whole(typed.get("delta"))
            if typed.get("delta", "").strip().startswith("-") and delta is not None and delta > 0:
                delta = -delta
            try:
                if problem:
                    raise StockRefused({"delta": problem})
                stock.adjust_stock(db.session, batch_id, delta or 0, typed.get("reason", ""), typed.get("note"),
                                   acting_user_id(), utcnow())
                flash(_("Stock adjusted."), "success")
                return redirect(url_for("PharmacyView.medicine", medicine_id=batch.medicine_id))
            except DomainError as exc:
                db.session.rollback()
                errors = _errors_of(exc)
                batch = db.session.get(StockBatch, batch_id)
        return self._page("adjust.html", batch=batch, typed=typed, errors=errors,
                          expired=dispensing.is_expired(batch.expiry_date, today())), (422 if errors else 200)

    # ---- goods receipts ----------------------------------------------------------------------

    @expose("/receive", methods=["GET", "POST"])
    @has_access
    def receive(self) -> ResponseReturnValue:
        suppliers = db.session.execute(select(Supplier).where(Supplier.active.is_(True))
                                       .order_by(Supplier.name)).scalars().all()
        medicines = db.session.execute(select(Medicine).where(Medicine.active.is_(True))
                                       .order_by(Medicine.name)).scalars().all()
        typed: dict[str, str] = {}
        errors: dict[str, str] = {}
        rows = max(RECEIPT_ROWS, request.form.get("rows", type=int) or 0) if request.method == "POST" else RECEIPT_ROWS
        more = request.method == "POST" and bool(request.form.get("add_rows"))
        rows = min(rows + (4 if more else 0), receiving.MAX_LINES)
        if request.method == "POST" and more:
            typed = {k: v for k, v in request.form.items() if k not in ("csrf_token", "rows", "add_rows")}
        elif request.method == "POST":
            typed = {k: v for k, v in request.form.items() if k != "csrf_token"}
            lines: list[receiving.ReceiptLine] = []
            line_rows: list[int] = []
            date_errors: dict[str, str] = {}  # a typed expiry that is no date: said as such
            for n in range(rows):
                values = [typed.get(f"{name}_{n}", "").strip() for name in
                          ("medicine", "lot", "expiry", "quantity", "cost")]
                if not any(values):
                    continue
                medicine_id, _problem = _whole(values[0])
                quantity, problem = _whole(values[3])
                try:
                    expiry: date | None = parse_date(values[2], user_language())
                except ValueError as exc:
                    expiry = None
                    date_errors[f"expiry_date_{n}"] = str(exc)
                cost = values[4].replace(".", "").replace(",", ".").replace(" ", "") or "0"
                lines.append(receiving.ReceiptLine(medicine_id, values[1], expiry, quantity if not problem else None,
                                                   cost))
                line_rows.append(n)
            supplier_id, _problem = _whole(typed.get("supplier"))
            try:
                receipt_id = receiving.receive_delivery(db.session, supplier_id, lines, acting_user_id(), utcnow(),
                                                        today(), policy=policy(),
                                                        delivery_note=typed.get("delivery_note"))
                flash(_("Delivery received."), "success")
                return redirect(url_for("PharmacyView.receipt", receipt_id=receipt_id))
            except DomainError as exc:
                db.session.rollback()
                # lines.<i>.<field> of the service -> the form's row of that line
                for key, message in _errors_of(exc).items():
                    parts = key.split(".")
                    if parts[0] == "lines" and len(parts) == 3:
                        errors[f"{parts[2]}_{line_rows[int(parts[1])]}"] = message
                    else:
                        errors[key] = message
                errors.update(date_errors)
        return self._page("receive.html", suppliers=suppliers, medicines=medicines, typed=typed, errors=errors,
                          rows=rows, min_shelf=policy().min_shelf_life_days,
                          date_placeholder=date_example(user_language())), (422 if errors else 200)

    @expose("/receipt/<int:receipt_id>")
    @has_access
    def receipt(self, receipt_id: int) -> ResponseReturnValue:
        receipt = receiving.get_receipt(db.session, receipt_id)
        names = {m.id: str(m) for m in db.session.execute(select(Medicine).where(
            Medicine.id.in_([line.medicine_id for line in receipt.lines]))).scalars()}
        total = sum((line.unit_cost * line.quantity for line in receipt.lines), start=0)
        return self._page("receipt.html", receipt=receipt, names=names, total=total,
                          number=f"GR-{receipt.id:06d}")


def _usage_chart(usage: list[tuple[date, int]], day: date) -> str | None:
    """The daily use over the last 90 days as a plotly figure (JSON): the page draws it with
    plotly's JS served by ``app.views.chart`` (/static-vendor/plotly.min.js) and
    app/static/js/pharmacy_chart.js (no inline script: CSP)."""
    if not usage:
        return None
    import plotly.graph_objects as go

    figure = go.Figure(go.Bar(x=[d.isoformat() for d, _n in usage], y=[n for _d, n in usage],
                              name=str(_("Units dispensed"))))
    figure.update_layout(height=260, margin={"l": 40, "r": 10, "t": 10, "b": 40},
                         # Bars are centred on their day: the axis runs half a day either side, so today's bar is whole.
        xaxis={"range": [f"{(day - timedelta(days=91)).isoformat()} 12:00", f"{day.isoformat()} 12:00"]})
    return str(figure.to_json())
