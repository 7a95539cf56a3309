"""Billing under concurrency, on PostgreSQL: twenty invoices issued at once take the numbers 1..20
of the year with no gap and no repeat; two cashiers paying the full balance at once: one payment,
the other a 409; a card payment settled by the provider while the cashier takes cash: the invoice
is never paid above its total (the late one is kept "unapplied" for a refund). SQLite has one
writer at a time: the races are PostgreSQL's."""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from decimal import Decimal
from typing import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Invoice, InvoiceSequence, Payment
from app.services import billing, payments
from app.services.billing_settings import BillingSettings
from app.services.errors import Conflict

pytestmark = pytest.mark.needs_postgres

QUIET = BillingSettings(email_on_issue=False, email_on_payment=False)
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)


def _draft(db, clinic) -> int:
    invoice = billing.new_draft(db.session, clinic.patient, None, NOW, QUIET)
    db.session.commit()
    billing.add_line(db.session, invoice.id, billing.LineInput(kind="service", service_id=clinic.service),
                     None, NOW, QUIET, may_change_price=False)
    return invoice.id


def _race(app, jobs: list[Callable[[Session], str]]) -> list[str]:
    """Run each job in its own thread and session, all released at once; their outcomes."""
    from app.extensions import db as database

    barrier = threading.Barrier(len(jobs))
    outcomes: list[str] = []

    def run(job: Callable[[Session], str]) -> None:
        with app.app_context(), Session(database.engine) as session:
            barrier.wait()
            try:
                outcomes.append(job(session))
            except Conflict as exc:
                outcomes.append(f"conflict {exc.status}")
            except Exception as exc:  # noqa: BLE001 - reported in the assertion
                outcomes.append(repr(exc))

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_twenty_invoices_issued_at_once_are_numbered_one_to_twenty(app, db, clinic):
    drafts = [_draft(db, clinic) for _ in range(20)]

    def issue(invoice_id: int) -> Callable[[Session], str]:
        return lambda session: billing.issue_invoice(session, invoice_id, None, NOW, QUIET, 2026).status

    # The year's first issue: every thread finds no counter row and one of them creates it.
    assert _race(app, [issue(i) for i in drafts]) == ["issued"] * 20
    db.session.expire_all()
    numbers = sorted(db.session.execute(select(Invoice.number).where(Invoice.id.in_(drafts))).scalars())
    assert numbers == [f"HD2026-{n:06d}" for n in range(1, 21)]
    assert db.session.get(InvoiceSequence, 2026).last_number == 20
    # With the row there: twenty more continue at 21.
    more = [_draft(db, clinic) for _ in range(20)]
    assert _race(app, [issue(i) for i in more]) == ["issued"] * 20
    db.session.expire_all()
    numbers = sorted(db.session.execute(select(Invoice.number).where(Invoice.id.in_(more))).scalars())
    assert numbers == [f"HD2026-{n:06d}" for n in range(21, 41)]


def test_two_cashiers_paying_the_full_balance_at_once(app, db, clinic):
    for _round in range(5):
        invoice = billing.issue_invoice(db.session, _draft(db, clinic), None, NOW, QUIET, 2026)
        total = invoice.total

        def pay(session: Session, invoice_id: int = invoice.id, amount: Decimal = total) -> str:
            return payments.record_payment(session, invoice_id, "cash", amount, None, NOW, billing=QUIET).status

        assert sorted(_race(app, [pay, pay])) == ["conflict 409", "succeeded"]
        db.session.expire_all()
        paid = db.session.get(Invoice, invoice.id)
        assert (paid.amount_paid, paid.status) == (total, "paid")
        rows = db.session.execute(select(Payment).where(Payment.invoice_id == invoice.id)).scalars().all()
        assert [p.amount for p in rows] == [total]


def test_a_double_click_at_the_counter_pays_once(app, db, clinic):
    """The same payment sent twice at once (one idempotency key): both answers are the one payment."""
    invoice_id = billing.issue_invoice(db.session, _draft(db, clinic), None, NOW, QUIET, 2026).id

    def pay(session: Session) -> str:
        payment = payments.record_payment(session, invoice_id, "cash", Decimal(50_000), None, NOW,
                                          idempotency_key="counter-click-1", billing=QUIET)
        return f"payment {payment.id}"

    outcomes = _race(app, [pay, pay])
    assert len(set(outcomes)) == 1 and outcomes[0].startswith("payment"), outcomes
    db.session.expire_all()
    assert db.session.get(Invoice, invoice_id).amount_paid == Decimal(50_000)


def test_a_card_settled_by_the_provider_racing_cash_at_the_counter(app, db, clinic):
    seen = set()
    for attempt in range(8):
        invoice = billing.issue_invoice(db.session, _draft(db, clinic), None, NOW, QUIET, 2026)
        total = invoice.total
        reference = f"cs_test_{attempt}"
        payments.start_online_payment(db.session, invoice.id, "card", total, reference, None, NOW)
        db.session.commit()

        def settle(session: Session, ref: str = reference, amount: Decimal = total) -> str:
            settled = payments.settle_online_payment(session, "stripe", ref, amount, f"pi_{ref}", NOW)
            session.commit()
            return f"card {settled.payment.status}"

        def cash(session: Session, invoice_id: int = invoice.id, amount: Decimal = total) -> str:
            return "cash " + payments.record_payment(session, invoice_id, "cash", amount, None, NOW,
                                                     billing=QUIET).status

        outcome = tuple(sorted(_race(app, [settle, cash])))
        assert outcome in {("card succeeded", "conflict 409"), ("card unapplied", "cash succeeded")}, outcome
        seen.add(outcome)
        db.session.expire_all()
        paid = db.session.get(Invoice, invoice.id)
        assert (paid.amount_paid, paid.status) == (total, "paid")
        counted = db.session.execute(select(Payment).where(Payment.invoice_id == invoice.id,
                                                           Payment.status == "succeeded")).scalars().all()
        assert sum(p.amount for p in counted) == total
    assert seen  # which one wins varies; either way the invoice is paid exactly once
