"""The cashier's counter (/cashier/): find the patient or scan the invoice number, see open
invoices, take payment, print or e-mail the receipt. Declares the billing powers (``can_discount``,
``can_change_price``, ``can_refund`` on ``Invoice``) that ``app.billing_rights`` reads.

Thin: each page reads its form (app/views/cashier_forms.py), calls one service
(``app.services.billing``, ``app.services.payments``, the gateways) and shows its answer. A refusal
(``DomainError``) shows the invoice again with the message flashed and next to its field, with the
error's status (422, 409, 403, 502): nothing was written. Money is shown with ``format_money`` and
typed the user's way ("1.000.000" in Vietnamese)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any, Callable

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup

from app.billing_labels import invoice_status_labels
from app.billing_rights import current_rights
from app.extensions import db
from app.fab.actor import acting_user, acting_user_id
from app.fab.hooks import clinic_settings
from app.form_fields import first_errors
from app.models import Invoice, Patient, Payment
from app.models.types import utcnow
from app.services import access, billing, cashier_day, counter_queries, invoice_mail, payments
from app.services.billing_settings import BillingSettings
from app.services.errors import DomainError, FieldErrors, Forbidden, NotFound, ProviderUnavailable, commit
from app.services.lookup import INVOICE_NUMBER, lookup_records
from app.services.overview import local_day_bounds
from app.views.cashier_forms import (
    COUNTER_METHODS,
    DISCOUNT_KINDS,
    LINE_KINDS,
    DiscountForm,
    LineForm,
    OnlinePaymentForm,
    PaymentForm,
    PlainForm,
    QuantityForm,
    ReasonForm,
    RefundForm,
    currency_places,
)
from app.views.fields import (
    format_decimal_input,
    format_moment,
    format_money,
    format_phone,
    number_symbols,
    user_language,
)

STATUS_STYLES = {"draft": "default", "issued": "primary", "partially_paid": "warning", "paid": "success",
                 "void": "danger", "refunded": "info"}
METHOD_LABELS = {"cash": _l("Cash"), "bank_transfer": _l("Bank transfer"), "card": _l("Card (Stripe)"),
                 "vnpay": _l("VNPay")}
PAYMENT_STATUS_LABELS = {"pending": _l("Waiting for the provider"), "succeeded": _l("Received"),
                         "failed": _l("Failed"), "cancelled": _l("Cancelled"),
                         "unapplied": _l("Not applied: refund it")}
EMAIL_LABELS = {"not_sent": _l("Not sent"), "queued": _l("Being sent"), "sent": _l("Sent"),
                "failed": _l("Sending failed")}
KIND_LABELS = {**LINE_KINDS, "other": _l("Other")}


def billing_settings() -> BillingSettings:
    return BillingSettings.from_config(current_app.config)


def _errors_of(exc: DomainError) -> dict[str, str]:
    if isinstance(exc, FieldErrors):
        return dict(exc.errors)
    return {exc.field or "_": exc.message}


def _amount_text(value: Decimal | None) -> str:
    """An amount as the user's language types it in an input ("1.000.000" in Vietnamese)."""
    return format_decimal_input(value, user_language(), currency_places())


def _vietqr(billing_config: BillingSettings, invoice: Invoice, amount: Decimal | None = None) -> Markup | None:
    """The VietQR code for ``amount`` (what is owed when None), when the clinic has a bank account
    set and the VietQR part is built (until then the page shows the account without a code)."""
    if not billing_config.vietqr_enabled or invoice.status not in billing.PAYABLE or invoice.balance <= 0:
        return None
    try:
        from app.services import vietqr

        return Markup(vietqr.qr_svg(vietqr.emv_payload(
            billing_config, invoice.balance if amount is None else amount, invoice.number or "")))
    except ValueError:  # the settings or the amount make no valid code
        return None


def qr_amount(raw: str | None, invoice: Invoice) -> Decimal:
    """The amount asked of the VietQR code (``?amount=``): whole đồng (the currency's unit), from 1
    to what is owed; none given: what is owed. A bad one: ``FieldErrors`` naming ``amount``."""
    if raw is None or not raw.strip():
        return Decimal(invoice.balance)
    from app.services.money import is_exact

    try:
        amount = Decimal(raw.strip())
    except (InvalidOperation, ValueError):
        raise FieldErrors({"amount": _("Enter an amount.")}) from None
    if not amount.is_finite() or amount < 1 or amount > invoice.balance:
        raise FieldErrors({"amount": _("Enter an amount from 1 to %(balance)s.",
                                       balance=format_money(invoice.balance))})
    if not is_exact(amount, invoice.currency):
        raise FieldErrors({"amount": _("Amounts in %(currency)s have no smaller unit: round the amount.",
                                       currency=invoice.currency)})
    return amount


def _person(patient: Patient) -> SimpleNamespace:
    return SimpleNamespace(id=patient.id, full_name=patient.full_name, code=patient.code, phone=patient.phone)


def _snapshot(invoice: Invoice) -> SimpleNamespace:
    """An invoice of a list as the page shows it."""
    return SimpleNamespace(id=invoice.id, number=invoice.number, status=invoice.status, total=invoice.total,
                           balance=invoice.balance, patient=_person(invoice.patient))


def _day_closed() -> Any:
    """The signed-in cashier's close of today, if they have closed their day (the counter warns
    that cash taken now is not in that close)."""
    user_id, settings = acting_user_id(), clinic_settings()
    if user_id is None:
        return None
    return cashier_day.closed_today(db.session, user_id, cashier_day.local_day(utcnow(), settings.timezone),
                                    settings.timezone)


class CashierView(BaseView):
    route_base = "/cashier"
    default_view = "index"
    class_permission_name = "Invoice"
    method_permission_name = {
        "index": "read", "invoice": "read", "receipt": "read", "vietqr_svg": "read",
        "new_invoice": "write", "add_line": "write", "update_line": "write", "remove_line": "write",
        "discount": "write", "issue": "write", "void": "write", "pay": "write", "card": "write", "vnpay": "write",
        "refund": "write",
    }
    # The powers are declared here once so that ``flask sync-roles`` creates them.
    base_permissions = ["can_read", "can_write", "can_change_price", "can_discount", "can_refund"]

    def _page(self, template: str, **context: Any) -> str:
        decimal_sep, group_sep = number_symbols(user_language())
        return self.render_template(
            f"billing/{template}", status_labels=invoice_status_labels(), status_styles=STATUS_STYLES,
            method_labels=METHOD_LABELS, payment_status_labels=PAYMENT_STATUS_LABELS, email_labels=EMAIL_LABELS,
            kind_labels=KIND_LABELS, fmt_money=format_money, fmt_phone=format_phone, fmt_time=format_moment,
            amount_text=_amount_text,
            number_text=lambda value: format_decimal_input(value, user_language()) or "0",
            decimal_sep=decimal_sep, group_sep=group_sep, places=currency_places(), language=user_language(),
            currency=current_app.config.get("CLINIC_CURRENCY", "VND"), **context)

    # ---- the counter: search and today's open invoices -------------------------------------------

    @expose("/")
    @has_access
    def index(self) -> ResponseReturnValue:
        search = (request.args.get("q") or "").strip()[:100]
        user, now = acting_user(), utcnow()
        settings = clinic_settings()
        patients: list[Patient] = []
        numbered: list[Invoice] = []
        if search:
            compact = search.replace(" ", "")
            if INVOICE_NUMBER.match(compact):
                found = billing.find_by_number(db.session, compact)
                if found is not None:  # a scanned number opens the invoice
                    return redirect(url_for("CashierView.invoice", invoice_id=found.id))
                numbered = counter_queries.invoices_numbered_like(db.session, compact)
            if not numbered:
                patients = lookup_records(db.session, user, Patient, search, now, settings.phone_region)
        start, _end = local_day_bounds(settings.today(), settings)
        today = counter_queries.open_invoices_since(db.session, start)
        by_patient = counter_queries.open_invoices_of(db.session, [p.id for p in patients])
        # What the page shows, read before the audit row's commit expires the records.
        shown = {"numbered": [_snapshot(i) for i in numbered], "today": [_snapshot(i) for i in today],
                 "patients": [_person(p) for p in patients],
                 "by_patient": {pid: [_snapshot(i) for i in rows] for pid, rows in by_patient.items()}}
        seen = {i.id: i for i in [*numbered, *today, *(i for rows in by_patient.values() for i in rows)]}
        access.record_list_read(db.session, user, Invoice, list(seen.values()))
        return self._page("counter.html", search=search, new_form=PlainForm(), may_write=current_rights().write,
                          title=_("Cashier's counter"), **shown)

    @expose("/patient/<int:patient_id>/new", methods=["POST"])
    @has_access
    def new_invoice(self, patient_id: int) -> ResponseReturnValue:
        """The patient's open draft (or a new one) to add lines to by hand."""
        form = PlainForm()
        if not form.validate():
            flash(" ".join(first_errors(form).values()), "danger")
            return redirect(url_for("CashierView.index"))
        try:
            invoice = billing.draft_for_patient(db.session, patient_id, acting_user_id(), utcnow(),
                                                billing_settings())
            invoice_id = invoice.id
            commit(db.session)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
            return redirect(url_for("CashierView.index")), 303
        return redirect(url_for("CashierView.invoice", invoice_id=invoice_id), 303)

    # ---- one invoice at the counter -------------------------------------------------------------

    def _invoice(self, invoice_id: int) -> Invoice:
        invoice = billing.get_invoice(db.session, invoice_id)
        access.open_record(db.session, acting_user(), invoice, utcnow())
        return invoice

    def _forms(self, invoice: Invoice) -> dict[str, FlaskForm]:
        balance = invoice.balance if invoice.status in billing.PAYABLE else None
        forms: dict[str, FlaskForm] = {
            "issue": PlainForm(prefix="issue"), "void": ReasonForm(prefix="void"),
            "line": LineForm(prefix="add"), "discount": DiscountForm(prefix="discount", kind=invoice.discount_kind
                                                                     or "amount", value=invoice.discount_value,
                                                                     reason=invoice.discount_reason),
            "pay": PaymentForm(prefix="pay", amount=balance), "transfer": PaymentForm(
                prefix="transfer", method="bank_transfer", amount=balance),
            "card": OnlinePaymentForm(prefix="card", amount=balance),
            "vnpay": OnlinePaymentForm(prefix="vnpay", amount=balance),
        }
        for line in invoice.lines:
            forms[f"line{line.id}"] = QuantityForm(prefix=f"line{line.id}", quantity=line.quantity,
                                                   unit_price=line.unit_price)
        for payment in invoice.payments:
            forms[f"refund{payment.id}"] = RefundForm(prefix=f"refund{payment.id}",
                                                      amount=payments.refundable(payment) or None)
        return forms

    def _show(self, invoice_id: int, submitted: dict[str, FlaskForm] | None = None,
              errors: dict[str, dict[str, str]] | None = None, status: int = 200) -> ResponseReturnValue:
        invoice = self._invoice(invoice_id)
        config = billing_settings()
        forms = self._forms(invoice)
        forms.update(submitted or {})
        rights = current_rights()
        qr = _vietqr(config, invoice)
        catalogue = counter_queries.line_catalogue(db.session) if invoice.status in billing.EDITABLE else None
        return self._page(
            "counter_invoice.html", invoice=invoice, patient=invoice.patient, lines=list(invoice.lines),
            payments=payments.invoice_payments(db.session, invoice.id),
            refunds=payments.invoice_refunds(db.session, invoice.id), refundable=payments.refundable,
            forms=forms, errors=errors or {}, rights=rights, billing=config, catalogue=catalogue,
            qr=qr, editable=invoice.status in billing.EDITABLE,
            payable=invoice.status in billing.PAYABLE and invoice.balance > 0, discount_kinds=DISCOUNT_KINDS,
            counter_methods=COUNTER_METHODS, mail_to=invoice_mail.recipient_address(db.session, invoice),
            voided_by=counter_queries.user_label(db.session, invoice.voided_by_id),
            qr_url=url_for("CashierView.vietqr_svg", invoice_id=invoice.id) if qr is not None else None,
            active_tab=next((name for name in ("pay", "transfer", "card", "vnpay") if (errors or {}).get(name)
                             and name in (submitted or {})), "pay"),
            title=_("Invoice %(number)s", number=invoice.number or _("draft")),
            day_closed=_day_closed(),
        ), status

    @expose("/invoice/<int:invoice_id>")
    @has_access
    def invoice(self, invoice_id: int) -> ResponseReturnValue:
        return self._show(invoice_id)

    @expose("/invoice/<int:invoice_id>/vietqr.svg")
    @has_access
    def vietqr_svg(self, invoice_id: int) -> ResponseReturnValue:
        """The VietQR code (SVG) for ``?amount=`` (whole đồng, 1 to what is owed; default what is
        owed): the transfer tab redraws it when the amount is changed. Reads only."""
        invoice = self._invoice(invoice_id)
        try:
            amount = qr_amount(request.args.get("amount"), invoice)
        except FieldErrors as exc:
            return Response(exc.errors["amount"], status=422, mimetype="text/plain")
        svg = _vietqr(billing_settings(), invoice, amount)
        if svg is None:
            abort(404)
        return Response(str(svg), mimetype="image/svg+xml",
                        headers={"Cache-Control": "private, no-store", "X-Amount": str(amount)})

    def _act(self, invoice_id: int, name: str, form: FlaskForm,
             action: Callable[[], ResponseReturnValue]) -> ResponseReturnValue:
        """Validate ``form`` (posted as ``name``), run ``action``; a refusal shows the invoice again
        with the form as typed, its errors and the refusal's status."""
        if not form.validate():
            flash(_("Some values cannot be saved; nothing was changed."), "danger")
            return self._show(invoice_id, {name: form}, {name: first_errors(form)}, 422)
        try:
            return action()
        except DomainError as exc:
            db.session.rollback()
            # Said once: under the field when it names a field of the form on the page, else at the top.
            fields = set(form._fields) if self._form_shown(invoice_id, name) else set()
            shown = {key: text for key, text in _errors_of(exc).items() if key in fields}
            for key, text in _errors_of(exc).items():
                if key not in fields and text not in shown.values():
                    flash(text, "danger")
            return self._show(invoice_id, {name: form}, {name: shown}, exc.status)

    def _form_shown(self, invoice_id: int, name: str) -> bool:
        """Whether the page shown after a refusal has the form ``name`` (its fields' messages can
        stand under them) or not (e.g. the invoice got paid meanwhile: the message goes on top)."""
        try:
            invoice = billing.get_invoice(db.session, invoice_id)
        except DomainError:
            return False
        rights = current_rights()
        if not rights.write:
            return False
        editable = invoice.status in billing.EDITABLE
        if name in ("line", "issue") or name.startswith(("line", "remove")):
            return editable
        if name == "discount":
            return editable and rights.discount
        if name in ("pay", "transfer", "card", "vnpay"):
            return invoice.status in billing.PAYABLE and invoice.balance > 0
        if name == "void":
            return invoice.status in ("draft", "issued") and not invoice.amount_paid
        if name.startswith("refund"):
            return rights.refund and any(str(p.id) == name[len("refund"):] and payments.refundable(p) > 0
                                         for p in invoice.payments)
        return False

    def _back(self, invoice_id: int) -> ResponseReturnValue:
        return redirect(url_for("CashierView.invoice", invoice_id=invoice_id), 303)

    @expose("/invoice/<int:invoice_id>/lines", methods=["POST"])
    @has_access
    def add_line(self, invoice_id: int) -> ResponseReturnValue:
        form = LineForm(prefix="add")

        def action() -> ResponseReturnValue:
            kind = form.kind.data
            line = billing.add_line(db.session, invoice_id, billing.LineInput(
                kind=kind, quantity=form.quantity.data,
                service_id=form.service_id.data if kind == "service" else None,
                medicine_id=form.medicine_id.data if kind == "medicine" else None,
                lab_test_id=form.lab_test_id.data if kind == "lab" else None,
                description=form.description.data if kind == "other" else None,
                unit_price=form.unit_price.data, reason=form.reason.data),
                acting_user_id(), utcnow(), billing_settings(), may_change_price=current_rights().change_price)
            flash(_("Added: %(line)s.", line=line.description), "success")
            return self._back(invoice_id)

        return self._act(invoice_id, "line", form, action)

    def _line_invoice(self, line_id: int) -> int:
        from app.models import InvoiceLine

        line = db.session.get(InvoiceLine, line_id)
        if line is None:
            raise NotFound(_("There is no such invoice line."), "line_id")
        return line.invoice_id

    @expose("/line/<int:line_id>", methods=["POST"])
    @has_access
    def update_line(self, line_id: int) -> ResponseReturnValue:
        invoice_id = self._line_invoice(line_id)
        name = f"line{line_id}"
        form = QuantityForm(prefix=name)

        def action() -> ResponseReturnValue:
            billing.update_line(db.session, line_id, form.quantity.data, form.unit_price.data, form.reason.data,
                                acting_user_id(), utcnow(), may_change_price=current_rights().change_price)
            flash(_("Line changed."), "success")
            return self._back(invoice_id)

        return self._act(invoice_id, name, form, action)

    @expose("/line/<int:line_id>/remove", methods=["POST"])
    @has_access
    def remove_line(self, line_id: int) -> ResponseReturnValue:
        invoice_id = self._line_invoice(line_id)
        form = ReasonForm(prefix=f"remove{line_id}")

        def action() -> ResponseReturnValue:
            billing.remove_line(db.session, line_id, acting_user_id(), utcnow(),
                                may_change_price=current_rights().change_price, reason=form.reason.data)
            flash(_("Line removed."), "success")
            return self._back(invoice_id)

        return self._act(invoice_id, f"remove{line_id}", form, action)

    @expose("/invoice/<int:invoice_id>/discount", methods=["POST"])
    @has_access
    def discount(self, invoice_id: int) -> ResponseReturnValue:
        form = DiscountForm(prefix="discount")

        def action() -> ResponseReturnValue:
            removing = bool(form.remove.data)
            billing.set_discount(db.session, invoice_id, None if removing else form.kind.data, form.value.data,
                                 form.reason.data, acting_user_id(), utcnow(),
                                 may_discount=current_rights().discount)
            flash(_("Discount removed.") if removing else _("Discount set."), "success")
            return self._back(invoice_id)

        return self._act(invoice_id, "discount", form, action)

    @expose("/invoice/<int:invoice_id>/issue", methods=["POST"])
    @has_access
    def issue(self, invoice_id: int) -> ResponseReturnValue:
        def action() -> ResponseReturnValue:
            now = utcnow()
            issued = billing.issue_invoice(db.session, invoice_id, acting_user_id(), now, billing_settings(),
                                           clinic_settings().today().year)
            flash(_("Invoice %(number)s issued: it can take payments.", number=issued.number), "success")
            return self._back(invoice_id)

        return self._act(invoice_id, "issue", PlainForm(prefix="issue"), action)

    @expose("/invoice/<int:invoice_id>/void", methods=["POST"])
    @has_access
    def void(self, invoice_id: int) -> ResponseReturnValue:
        form = ReasonForm(prefix="void")

        def action() -> ResponseReturnValue:
            billing.void_invoice(db.session, invoice_id, form.reason.data, acting_user_id(), utcnow())
            flash(_("The invoice is void."), "success")
            return self._back(invoice_id)

        return self._act(invoice_id, "void", form, action)

    # ---- payments ---------------------------------------------------------------------------------

    @expose("/invoice/<int:invoice_id>/pay", methods=["POST"])
    @has_access
    def pay(self, invoice_id: int) -> ResponseReturnValue:
        name = "transfer" if request.form.get("transfer-method") == "bank_transfer" else "pay"
        form = PaymentForm(prefix=name)

        def action() -> ResponseReturnValue:
            key = form.key.data or None
            try:
                payment = payments.record_payment(
                    db.session, invoice_id, form.method.data, form.amount.data, acting_user_id(), utcnow(),
                    tendered=form.tendered.data if form.method.data == "cash" else None,
                    reference=form.reference.data if form.method.data == "bank_transfer" else None,
                    idempotency_key=key, note=form.note.data, billing=billing_settings())
            except DomainError:
                db.session.rollback()
                first = counter_queries.payment_by_key(db.session, key)  # a double click lost the race
                if first is None or first.invoice_id != invoice_id:
                    raise
                payment = first
            message = _("Payment of %(amount)s recorded.", amount=format_money(payment.amount))
            if payment.change_given:
                message += " " + _("Change: %(amount)s.", amount=format_money(payment.change_given))
            flash(message, "success")
            return redirect(url_for("CashierView.receipt", payment_id=payment.id), 303)

        return self._act(invoice_id, name, form, action)

    def _online(self, invoice_id: int, name: str, start: Callable[[Invoice, Decimal | None], str]) \
            -> ResponseReturnValue:
        form = OnlinePaymentForm(prefix=name)
        invoice = billing.get_invoice(db.session, invoice_id)

        def action() -> ResponseReturnValue:
            try:
                amount = form.amount.data
                url = start(invoice, Decimal(amount) if amount is not None else None)
            except ProviderUnavailable as exc:
                db.session.rollback()
                flash(exc.message, "danger")
                return self._back(invoice_id)
            return redirect(url, 303)

        return self._act(invoice_id, name, form, action)

    @expose("/invoice/<int:invoice_id>/card", methods=["POST"])
    @has_access
    def card(self, invoice_id: int) -> ResponseReturnValue:
        """Stripe Checkout for what is owed (or the amount typed): the payer is sent to Stripe."""
        config = billing_settings()
        if not config.stripe_enabled:
            abort(404)

        def start(invoice: Invoice, amount: Decimal | None) -> str:
            from app.services import stripe_gateway

            back = url_for("CashierView.invoice", invoice_id=invoice.id, _external=True)
            return stripe_gateway.start_checkout(
                db.session, invoice.id, amount if amount is not None else invoice.balance, acting_user_id(),
                utcnow(), config, success_url=back, cancel_url=back, locale=user_language(),
                customer_email=invoice.patient.email or None)

        return self._online(invoice_id, "card", start)

    @expose("/invoice/<int:invoice_id>/vnpay", methods=["POST"])
    @has_access
    def vnpay(self, invoice_id: int) -> ResponseReturnValue:
        """VNPay's signed payment page for what is owed (or the amount typed)."""
        config = billing_settings()
        if not config.vnpay_enabled:
            abort(404)

        def start(invoice: Invoice, amount: Decimal | None) -> str:
            from app.views.vnpay_routes import payment_link  # comes back to VNPay's return page, then here

            return payment_link(invoice.id, amount if amount is not None else invoice.balance, acting_user_id())

        return self._online(invoice_id, "vnpay", start)

    @expose("/payment/<int:payment_id>/refund", methods=["POST"])
    @has_access
    def refund(self, payment_id: int) -> ResponseReturnValue:
        payment = self._payment(payment_id)
        invoice_id, name = payment.invoice_id, f"refund{payment_id}"
        form = RefundForm(prefix=name)

        def action() -> ResponseReturnValue:
            if not current_rights().refund:
                raise Forbidden(_("You may not give money back; ask a manager."), "amount")
            refund = payments.refund_payment(db.session, payment_id, form.amount.data, form.reason.data,
                                             acting_user_id(), utcnow(), billing_settings(),
                                             idempotency_key=form.key.data or None)
            flash(_("Refunded %(amount)s (%(method)s).", amount=format_money(refund.amount),
                    method=METHOD_LABELS.get(refund.method, refund.method)), "success")
            return self._back(invoice_id)

        return self._act(invoice_id, name, form, action)

    def _payment(self, payment_id: int) -> Payment:
        payment = counter_queries.get_payment(db.session, payment_id)
        if payment is None:
            raise NotFound(_("There is no such payment."), "payment_id")
        return payment

    @expose("/payment/<int:payment_id>/receipt")
    @has_access
    def receipt(self, payment_id: int) -> ResponseReturnValue:
        """After a payment: what was paid, the cash handed over and the change, what is left, and
        the invoice to print, download or e-mail."""
        payment = self._payment(payment_id)
        invoice = self._invoice(payment.invoice_id)
        return self._page("counter_receipt.html", payment=payment, invoice=invoice, patient=invoice.patient,
                          email_form=PlainForm(), rights=current_rights(),
                          mail_to=invoice_mail.recipient_address(db.session, invoice),
                          title=_("Receipt: %(number)s", number=invoice.number or ""))

