"""Demo visits step: the rows of every appointment and, for a completed visit, its encounter
(vitals that fit the patient), diagnoses, laboratory orders and results, prescription, invoice,
payments and review; written chunk by chunk of patients."""
from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

from app.models import (
    Appointment,
    AppointmentEvent,
    Diagnosis,
    Encounter,
    Invoice,
    InvoiceLine,
    LabOrder,
    LabResult,
    Patient,
    Payment,
    Prescription,
    PrescriptionItem,
    Refund,
    Review,
)
from app.services.billing import compute_totals, discount_amount
from app.services.billing_settings import DEFAULT_VAT, BillingSettings
from app.services.demo_data.appointments import Appointments
from app.services.demo_data.clinic import GENERAL_CONSULTATION, LAB_PACKAGES
from app.services.demo_data.core import CHUNK, Appt, PatientDraft, Weighted
from app.services.demo_data.diagnoses import (
    DEPARTMENT_DIAGNOSES,
    DIAGNOSES,
    PAST_HISTORY_ADULT,
    PAST_HISTORY_CHILD,
    SERVICE_DIAGNOSES,
    Dx,
)
from app.services.demo_data.lab_tests import LAB_TESTS
from app.services.demo_data.medicines import CHILD_SUBSTITUTES, MEDICINES, Med
from app.services.demo_data.population import (
    CANCEL_REASONS,
    CHANNEL_WEIGHTS,
    PAYMENT_METHODS,
    REVIEW_COMMENTS,
    REVIEW_HIDDEN_REASONS,
    REVIEW_REPLIES,
)
from app.services.people import patient_search_text

# Every line kind at the clinic's default VAT rate (medical services and laboratory exempt,
# medicines 5 %), numbers with the default prefix: what an unconfigured clinic issues.
VAT = dict(DEFAULT_VAT)
INVOICE_PREFIX = BillingSettings().invoice_prefix
# The last visits before the demo day, left at the cash desk (latest first).
OPEN_AT_THE_COUNTER = ("draft", "issued", "draft", "partially_paid", "issued", "draft")
PROVIDERS = {"cash": "manual", "bank_transfer": "bank", "card": "stripe", "vnpay": "vnpay"}
IN_THE_PACKAGE = "Đã gồm trong giá gói khám"
REFUND_EVERY = 40  # one paid invoice in forty has money given back (the 3rd, the 43rd...)
DISCOUNT_REASONS = ("Giảm 10% cho khách hàng thân thiết", "Giảm 5% cho người cao tuổi")
REFUND_REASONS = ("Dịch vụ không thực hiện, hoàn tiền cho bệnh nhân", "Bệnh nhân trả lại thuốc chưa dùng",
                  "Thu thừa, hoàn lại phần chênh lệch")


class Visits(Appointments):
    """Turns the planned appointments into the rows of visits, and writes them with the patients."""

    # ---- visits: appointments, encounters, prescriptions, labs, invoices, reviews -------------

    def prepare_visits(self) -> None:
        """What must follow time order across all patients, decided before rows are written chunk by
        chunk: encounter and invoice ids (one each per completed visit), when each visit is signed
        and its invoice issued, the invoice numbers (given at issue, gapless per year in issue order,
        as ``app.services.billing.issue_invoice`` gives them; a draft has none), and each doctor's
        queue numbers of the day. The last visits before today wait at the cash desk (drafts,
        invoices issued or part paid): the counter has work on the demo day."""
        rng = self.rng
        queue_seq: dict[tuple[int, date], int] = defaultdict(int)
        visit = 0
        self.chunk_appts: dict[int, list[Appt]] = defaultdict(list)
        completed: list[Appt] = []
        for a in self.appts:  # in time order
            a.visit = a.invoice_number = a.queue_number = a.signed_at = a.issued_at = a.bill_state = None
            if a.status == "completed":
                visit += 1
                a.visit = visit
                queue_seq[(a.doctor, a.day)] += 1
                a.queue_number = queue_seq[(a.doctor, a.day)]
                a.signed_at = a.end + timedelta(minutes=rng.randint(1, 15))
                # Issued at the counter once the pharmacy (at most 45 minutes after signing) is done.
                a.issued_at = a.signed_at + timedelta(minutes=rng.randint(46, 70))
                completed.append(a)
            self.chunk_appts[a.chunk].append(a)
        if completed:
            waiting = sorted(completed, key=lambda a: (a.end, a.id))[-len(OPEN_AT_THE_COUNTER):]
            for a, state in zip(reversed(waiting), OPEN_AT_THE_COUNTER, strict=False):
                a.bill_state = state
                if state == "draft":
                    a.issued_at = None
        per_year: dict[int, int] = defaultdict(int)
        for a in sorted((a for a in completed if a.issued_at is not None), key=lambda a: (a.issued_at, a.id)):
            assert a.issued_at is not None
            year = a.issued_at.astimezone(self.tz).year
            per_year[year] += 1
            a.invoice_number = f"{INVOICE_PREFIX}{year}-{per_year[year]:06d}"
        self.invoice_sequence = dict(per_year)  # the counter continues from each year's last number
        self.payment_methods = Weighted(PAYMENT_METHODS)
        self.med_index = {m.code: i for i, m in enumerate(MEDICINES)}
        self.dispense_events: list[list[tuple]] = [[] for _ in MEDICINES]
        self.ids: dict[str, int] = defaultdict(int)
        self.dx_cache: dict[tuple, list[Dx]] = {}

    def visit_rows(self, appts: list[Appt]) -> dict[str, list[dict]]:
        """Rows for these appointments (one chunk of patients): the appointments themselves and, for
        completed visits, encounter, diagnoses, labs, prescription, invoice, payments, review."""
        rng, now = self.rng, self.now
        money = self.money
        b: dict[str, list[dict]] = defaultdict(list)
        med_index = self.med_index
        channels = Weighted(CHANNEL_WEIGHTS)
        ratings = Weighted([(5, 50), (4, 30), (3, 12), (2, 5), (1, 3)])
        ids = self.ids
        patients = self.patients
        doctor_dept = self.doctor_dept
        service_info = self.service_info
        dx_cache = self.dx_cache
        one = Decimal(1)
        future_channels = Weighted([(c, w) for c, w in CHANNEL_WEIGHTS if c != "walk_in"])
        zero = Decimal(0)
        lab_test_ids: dict[str, int] = getattr(self, "lab_test_ids", {})

        def near(x: int) -> int:
            return max(1, min(5, x + (0 if rng.random() < 0.6 else (-1 if rng.random() < 0.5 else 1))))

        def diagnoses_for(codes: tuple[str, ...], group: str, age: int) -> list[Dx]:
            key = (codes, group, age)
            found = dx_cache.get(key)
            if found is None:
                found = [dx for dx in (DIAGNOSES[c] for c in codes)
                         if group in dx.groups and dx.min_age <= age <= dx.max_age]
                if not found:
                    found = [DIAGNOSES[c] for c in codes]
                dx_cache[key] = found
            return found

        for a in appts:
            p = patients[a.patient - 1]
            code, service_name, _dept, price, _minutes, _weight, _groups = service_info[a.service - 1]
            dept = doctor_dept[a.doctor]
            age = (a.day - p.dob).days // 365
            group = "c" if age < 16 else ("f" if p.sex == "female" else "m")
            if code in SERVICE_DIAGNOSES:
                codes = SERVICE_DIAGNOSES[code]
            elif code == GENERAL_CONSULTATION:
                codes = DEPARTMENT_DIAGNOSES["NHI" if group == "c" else "NTQ"]
            else:
                codes = DEPARTMENT_DIAGNOSES[dept]
            choices = diagnoses_for(codes, group, age)
            dx = choices[int(rng.random() * len(choices))]
            complaint = dx.complaint.format(n=rng.randint(1, 5)) if "{n}" in dx.complaint else dx.complaint
            past = a.status in ("completed", "cancelled", "no_show")
            channel = channels.pick(rng) if past else future_channels.pick(rng)
            if channel == "walk_in":
                created = a.start - timedelta(minutes=rng.randint(10, 40))
            else:
                created = a.start - timedelta(minutes=rng.randint(60, 14 * 24 * 60))
            if created > now:
                created = now - timedelta(minutes=rng.randint(5, 600))
            row = dict(id=a.id, patient_id=a.patient, doctor_id=a.doctor + 1, service_id=a.service,
                       start_at=a.start, end_at=a.end, status=a.status, channel=channel, reason=complaint,
                       notes=None, queue_date=None, queue_number=None, checked_in_at=None, cancelled_by_id=None,
                       cancelled_at=None, cancel_reason=None, series_id=None, created_by_id=None,
                       created_at=created, updated_at=created)
            b["appointment"].append(row)
            if p.first_visit is None or created < p.first_visit:
                p.first_visit = created
            if a.status == "cancelled":
                cancelled = a.start - timedelta(minutes=rng.randint(30, 3 * 24 * 60))
                if cancelled <= created:
                    cancelled = created + (a.start - created) / 2
                row.update(cancelled_at=cancelled, cancel_reason=CANCEL_REASONS[int(rng.random() * 6)],
                           updated_at=cancelled)
                continue
            if a.status != "completed":
                if a.status == "no_show":
                    row["updated_at"] = a.end + timedelta(hours=1)
                continue
            # Completed: checked in, seen, written up, billed.
            checked_in = a.start - timedelta(minutes=rng.randint(3, 25))
            if checked_in < created:
                checked_in = created
            row.update(queue_date=a.day, queue_number=a.queue_number, checked_in_at=checked_in,
                       updated_at=a.end)
            # The workflow's history (the dashboards' waits and consultation lengths read it): checked
            # in, seen after a wait that varies by visit (no draw: the rest of the data stays as it was),
            # finished at the end of the slot.
            seen = max(a.start, checked_in) + timedelta(minutes=(a.id * 7) % 16)
            for before, after, at in (("confirmed", "checked_in", checked_in), ("checked_in", "in_consultation", seen),
                                      ("in_consultation", "completed", max(a.end, seen + timedelta(minutes=5)))):
                ids["appointment_event"] += 1
                b["appointment_event"].append(dict(id=ids["appointment_event"], appointment_id=a.id,
                                                   from_status=before, to_status=after, actor_id=None, at=at,
                                                   note=None))
            enc_id = a.visit
            assert enc_id is not None  # prepare_visits numbered every completed visit
            signed = a.signed_at
            assert signed is not None
            b["encounter"].append(self.encounter_row(enc_id, a, p, age, dx, complaint, signed))
            ids["diagnosis"] += 1
            b["diagnosis"].append(dict(id=ids["diagnosis"], encounter_id=enc_id, icd10_code=dx.code,
                                       text=f"{dx.vi} ({dx.en})", is_primary=True))
            if len(choices) > 1 and rng.random() < 0.15:
                other = choices[int(rng.random() * len(choices))]
                if other.code != dx.code:
                    ids["diagnosis"] += 1
                    b["diagnosis"].append(dict(id=ids["diagnosis"], encounter_id=enc_id, icd10_code=other.code,
                                               text=f"{other.vi} ({other.en})", is_primary=False))
            # What signing the visit and dispensing put on the patient's draft, each line naming its
            # source (app.services.billing.bill_visit, bill_dispensed): (kind, service id, medicine
            # id, lab test id, description, quantity, unit price, source, source id).
            lines: list[tuple[str, int | None, int | None, int | None, str, Decimal, Decimal, str, int]] = [
                ("service", a.service, None, None, service_name, one, money(price), "appointment", a.id)]
            fee = Decimal(self.doctors[a.doctor]["consultation_fee"])  # type: ignore[arg-type]  # a money column
            if fee > 0:
                lines.append(("service", None, None, None, f"Phí khám: {self.doctors[a.doctor]['full_name']}", one,
                              fee, "consultation", enc_id))
            # Laboratory
            package = LAB_PACKAGES.get(code)
            tests: tuple[str, ...] = ()
            billed = False
            if package:
                extra = ("LIVER", "KIDNEY", "UA", "HBA1C")
                tests = package + ((extra[int(rng.random() * 4)],) if code == "XN-TQ" and rng.random() < 0.5
                                   else ())
            elif dx.labs and rng.random() < 0.2:
                tests, billed = dx.labs, True
            for test in tests:
                self.lab_rows(b, ids, enc_id, a, test, dx)
                name, lab_price, _analytes = LAB_TESTS[test]
                # A package's tests are in its price: billed at 0 with the reason (each order once).
                lines.append(("lab", None, None, lab_test_ids.get(test), f"Xét nghiệm: {name}", one,
                              money(lab_price) if billed else zero, "lab_order", ids["lab_order"]))
            # Prescription
            if dx.meds and rng.random() < 0.9:
                chosen: list[Med] = []
                for k, alternatives in enumerate(dx.meds):
                    if k and rng.random() > 0.65:
                        continue
                    med_code = alternatives[int(rng.random() * len(alternatives))]
                    if group == "c" and not MEDICINES[med_index[med_code]].child_ok:
                        substitute = CHILD_SUBSTITUTES.get(med_code)
                        if substitute is None:
                            continue
                        med_code = substitute
                    med = MEDICINES[med_index[med_code]]
                    if med not in chosen:
                        chosen.append(med)
                if chosen:
                    r = rng.random()
                    status = "dispensed" if r < 0.82 else "issued" if r < 0.96 else "partially_dispensed"
                    if status == "partially_dispensed" and len(chosen) < 2:
                        status = "dispensed"
                    ids["prescription"] += 1
                    presc_id = ids["prescription"]
                    issued = signed
                    dispensed_at = issued + timedelta(minutes=rng.randint(10, 45)) if status != "issued" else None
                    b["prescription"].append(dict(
                        id=presc_id, encounter_id=enc_id, patient_id=a.patient, doctor_id=a.doctor + 1,
                        status=status, notes=dx.plan if rng.random() < 0.3 else None, issued_at=issued,
                        dispensed_at=dispensed_at, dispensed_by_id=None, created_at=a.end,
                        updated_at=dispensed_at or issued))
                    for k, med in enumerate(chosen):
                        days = med.days[int(rng.random() * len(med.days))]
                        if med.per_course:
                            quantity = med.per_course
                            dose = med.dose
                        else:
                            quantity = int(med.dose) * med.per_day * days
                            dose = f"{med.dose} {med.unit}"
                        if status == "dispensed":
                            given = quantity
                        elif status == "partially_dispensed":
                            given = quantity if k == 0 else 0
                        else:
                            given = 0
                        ids["prescription_item"] += 1
                        b["prescription_item"].append(dict(
                            id=ids["prescription_item"], prescription_id=presc_id, medicine_id=med_index[med.code] + 1,
                            dose=dose, frequency=f"{med.per_day} lần/ngày", duration_days=days, route=med.route,
                            quantity=quantity, dispensed_quantity=given, instructions=med.instructions,
                            dose_amount=None if med.per_course else Decimal(med.dose), times_per_day=med.per_day,
                            override_reason=None, warnings=None))
                        if given:
                            self.dispense_events[med_index[med.code]].append((dispensed_at, given, presc_id))
                            lines.append(("medicine", None, med_index[med.code] + 1, None,
                                          f"{med.name} {med.strength} ({med.unit})", Decimal(given), money(med.price),
                                          "prescription_item", ids["prescription_item"]))
            # Invoice
            self.invoice_rows(b, a, lines, age)
            # Review
            if rng.random() < 0.18:
                overall = ratings.pick(rng)
                comments = REVIEW_COMMENTS[overall]
                review_at = a.end + timedelta(minutes=rng.randint(60, 3 * 24 * 60))
                if review_at > now:
                    review_at = a.end + timedelta(minutes=90)
                r = rng.random()
                review_status = "approved" if r < 0.75 else "pending" if r < 0.95 else "rejected"
                moderated = None
                if review_status != "pending":
                    moderated = min(review_at + timedelta(minutes=rng.randint(30, 2 * 24 * 60)), now)
                    if moderated < review_at:
                        moderated = review_at
                ids["review"] += 1
                # published ones (``approved``) are on the doctor's and the service's public pages;
                # a hidden one (``rejected``) has the reason its author was told; one in five
                # published has the doctor's reply. Chosen by the review's number, not drawn from
                # ``rng``: the rest of the demo data stays as it was.
                n = ids["review"]
                hidden_reason = REVIEW_HIDDEN_REASONS[n % len(REVIEW_HIDDEN_REASONS)] \
                    if review_status == "rejected" else None
                reply = replied = None
                if review_status == "approved" and moderated is not None and n % 5 == 0:
                    reply = REVIEW_REPLIES[n // 5 % len(REVIEW_REPLIES)]
                    replied = min(moderated + timedelta(hours=1 + n % 48), now)
                b["review"].append(dict(
                    id=n, patient_id=a.patient, doctor_id=a.doctor + 1, service_id=a.service,
                    appointment_id=a.id, rating_professional=near(overall), rating_attitude=near(overall),
                    rating_waiting_time=near(overall), rating_overall=overall,
                    comment=comments[int(rng.random() * len(comments))], status=review_status,
                    moderated_by_id=None, moderated_at=moderated, hidden_reason=hidden_reason, reply=reply,
                    replied_by_id=None, replied_at=replied, updated_at=None, created_at=review_at))
        return b

    def invoice_rows(self, b: dict[str, list[dict]], a: Appt, lines: list[tuple], age: int) -> None:
        """The visit's invoice as the counter leaves it: its lines with VAT per line kind (the
        clinic's default rates), the discount split over them and the totals as
        ``app.services.billing.compute_totals`` makes them; then its payments (cash with the
        change given, transfers, Stripe and VNPay), now and then a refund, or a void."""
        rng, now, ids, currency = self.rng, self.now, self.ids, self.currency
        zero = Decimal(0)
        inv_id = a.visit
        signed, issued_at = a.signed_at, a.issued_at
        assert inv_id is not None and signed is not None
        amounts = [quantity * unit_price for _k, _s, _m, _l, _d, quantity, unit_price, _src, _sid in lines]
        rates = [VAT[line[0]] for line in lines]
        subtotal = sum(amounts, zero)
        discount_kind = discount_value = discount_reason = None
        r = rng.random()
        if r < 0.10:
            discount_kind, discount_value, discount_reason = "percent", Decimal(10), DISCOUNT_REASONS[0]
        elif r < 0.14 and age >= 60:
            discount_kind, discount_value, discount_reason = "percent", Decimal(5), DISCOUNT_REASONS[1]
        totals = compute_totals(amounts, rates,
                                discount_amount(discount_kind, discount_value, subtotal, currency), currency)
        for (kind, service_id, medicine_id, lab_test_id, description, quantity, unit_price, source,
             source_id), amount, rate, figures in zip(lines, amounts, rates, totals.lines, strict=True):
            package = kind == "lab" and not unit_price
            ids["invoice_line"] += 1
            b["invoice_line"].append(dict(
                id=ids["invoice_line"], invoice_id=inv_id, kind=kind, service_id=service_id, medicine_id=medicine_id,
                lab_test_id=lab_test_id, description=description, quantity=quantity, unit_price=unit_price,
                amount=amount, discount_share=figures.discount_share, tax_rate=rate, tax=figures.tax,
                reason=IN_THE_PACKAGE if package else None,
                price_overridden=package, source=source, source_id=source_id))
        total = totals.total
        status = a.bill_state
        if status is None:
            r = rng.random()
            status = "paid" if r < 0.93 else "partially_paid" if r < 0.96 else "issued" if r < 0.99 else "void"
        payments: list[Decimal] = []
        if status == "paid":
            first = self.round_down(total * Decimal("0.5"))
            payments = [first, total - first] if rng.random() < 0.08 and zero < first < total else [total]
        elif status == "partially_paid":
            part = self.round_down(total * Decimal(rng.randint(30, 70)) / 100)
            if zero < part < total:
                payments = [part]
            else:
                status, payments = "paid", [total]
        # Now and then money goes back: a medicine returned unused, a service not given.
        refund: tuple[Decimal, str] | None = None
        if status == "paid" and len(payments) == 1 and a.bill_state is None:
            ids["paid_in_one"] += 1
            if ids["paid_in_one"] % REFUND_EVERY == 3:
                part = self.round_down(total * Decimal(rng.randint(10, 40)) / 100)
                if ids["paid_in_one"] // REFUND_EVERY % 2 == 0 or not zero < part < total:
                    refund = (total, REFUND_REASONS[0])
                else:
                    refund = (part, REFUND_REASONS[1 + int(rng.random() * (len(REFUND_REASONS) - 1))])
        email = self.patient_rows_extra[a.patient - 1][0]
        updated = issued_at or signed
        paid_at = issued_at
        refunded = zero
        for amount in payments:
            assert paid_at is not None
            ids["payment"] += 1
            pay_id = ids["payment"]
            paid_at = paid_at + timedelta(minutes=rng.randint(1, 20))
            method = self.payment_methods.pick(rng)
            row = dict(id=pay_id, invoice_id=inv_id, method=method, amount=amount, status="succeeded",
                       provider=PROVIDERS[method], provider_reference=None, provider_charge=None, checkout_url=None,
                       idempotency_key=None, tendered=None, change_given=None, amount_refunded=zero, note=None,
                       received_by_id=None, paid_at=paid_at, created_at=paid_at, updated_at=paid_at)
            if method == "cash":
                tendered = self.tendered(amount)
                row.update(tendered=tendered, change_given=tendered - amount)
            elif method == "bank_transfer":
                row.update(provider_reference=f"FT{paid_at:%y%j}{pay_id:08d}")
            elif method == "card":
                row.update(provider_reference=f"cs_demo_{pay_id:010d}", provider_charge=f"pi_demo_{pay_id:010d}",
                           created_at=paid_at - timedelta(minutes=3))
            else:
                row.update(provider_reference=f"{inv_id}-{pay_id}", provider_charge=f"{14_000_000 + pay_id}",
                           created_at=paid_at - timedelta(minutes=3))
            b["payment"].append(row)
            updated = paid_at
            if refund is not None:
                amount_back, reason = refund
                refunded_at = paid_at + timedelta(minutes=rng.randint(30, 3 * 24 * 60))
                if refunded_at >= now:
                    refunded_at = paid_at + (now - paid_at) / 2
                ids["refund"] += 1
                reference = (f"re_demo_{ids['refund']:010d}" if method == "card"
                             else f"VNPR{ids['refund']:08d}" if method == "vnpay"
                             else f"FT{refunded_at:%y%j}R{ids['refund']:07d}" if method == "bank_transfer" else None)
                b["refund"].append(dict(
                    id=ids["refund"], payment_id=pay_id, invoice_id=inv_id, amount=amount_back, method=method,
                    status="succeeded", reason=reason, provider_reference=reference, idempotency_key=None,
                    refunded_by_id=None, refunded_at=refunded_at, created_at=refunded_at, updated_at=refunded_at))
                row.update(amount_refunded=amount_back, updated_at=refunded_at)
                refunded, updated = amount_back, refunded_at
                if amount_back == total:
                    status = "refunded"
        voided_at = void_reason = None
        if status == "void":
            assert issued_at is not None
            voided_at = issued_at + timedelta(minutes=rng.randint(2, 30))
            void_reason, updated = "Hủy hóa đơn do nhập sai dịch vụ", voided_at
        sent = issued_at is not None and email is not None
        b["invoice"].append(dict(
            id=inv_id, number=a.invoice_number, patient_id=a.patient, appointment_id=a.id, status=status,
            currency=currency, subtotal=totals.subtotal, discount=totals.discount, tax=totals.tax, total=total,
            amount_paid=sum(payments, zero), amount_refunded=refunded, discount_kind=discount_kind,
            discount_value=discount_value, discount_reason=discount_reason, issued_at=issued_at, issued_by_id=None,
            voided_at=voided_at, voided_by_id=None, void_reason=void_reason, notes=None,
            email_status="sent" if sent else "not_sent", email_error=None,
            emailed_at=issued_at + timedelta(minutes=1) if sent and issued_at is not None else None,
            email_attempts=1 if sent else 0, created_by_id=None, created_at=signed, updated_at=updated))

    def tendered(self, amount: Decimal) -> Decimal:
        """The cash a patient hands over: the exact sum, or the next round note above it."""
        r = self.rng.random()
        if r < 0.3:
            return amount
        notes = (10_000, 50_000, 100_000, 500_000) if self.currency == "VND" else (1, 5, 10, 20)
        step = Decimal(notes[0 if r < 0.55 else 1 if r < 0.8 else 2 if r < 0.95 else 3])
        return (amount / step).to_integral_value(rounding=ROUND_CEILING) * step

    def encounter_row(self, enc_id: int, a: Appt, p: PatientDraft, age: int, dx: Dx, complaint: str,
                      signed: datetime) -> dict:
        rng = self.rng
        systolic = diastolic = None
        # The patient's own build, the same at every visit (the chart's weight and BMI follow one
        # person over time); each visit's draw only moves the weight by a few per cent.
        body = random.Random(p.id)
        stature, build = body.uniform(-1, 1), body.uniform(0, 1)
        if age < 1:
            months = (a.day - p.dob).days / 30.4
            height = 50 + 2.2 * months + 2 * stature
            weight = (3.3 + 0.6 * months) * (0.92 + 0.16 * build) * (1 + 0.02 * (rng.uniform(3.2, 10) - 6.6) / 3.4)
            pulse, resp = rng.randint(100, 150), rng.randint(30, 45)
        elif age < 16:
            height = min(175.0, 75 + 6 * age + 6 * stature)
            weight = (height / 100) ** 2 * (14.5 + 5 * build) * (1 + 0.03 * (rng.uniform(14, 21) - 17.5) / 3.5)
            pulse, resp = rng.randint(75, 115), rng.randint(18, 28)
            if age >= 6:
                systolic, diastolic = rng.randint(90, 115), rng.randint(55, 75)
        else:
            height = (170 if p.sex == "male" else 158) + 9 * stature
            weight = (height / 100) ** 2 * (18.5 + 10 * build) * (1 + 0.03 * (rng.uniform(18, 29) - 23.5) / 5.5)
            pulse, resp = rng.randint(60, 98), rng.randint(14, 20)
            if dx.code == "I10":
                systolic, diastolic = rng.randint(140, 175), rng.randint(88, 105)
            else:
                systolic = rng.randint(100, 135) + (10 if age > 60 else 0)
                diastolic = rng.randint(60, 85)
        if dx.fever and rng.random() < 0.7:
            temperature = rng.randint(375, 395)
            pulse = min(pulse + 10, 180)
        else:
            temperature = rng.randint(362, 372)
        spo2 = rng.randint(94, 99) if dx.code in ("J20.9", "J45.9") else rng.randint(96, 100)
        follow_up = a.day + timedelta(days=dx.follow_up) if dx.follow_up and rng.random() < 0.7 else None
        history = (PAST_HISTORY_CHILD if age < 16 else PAST_HISTORY_ADULT)
        return dict(
            id=enc_id, appointment_id=a.id, patient_id=a.patient, doctor_id=a.doctor + 1, chief_complaint=complaint,
            history=history[int(rng.random() * len(history))], examination=dx.exam,
            systolic_bp=systolic, diastolic_bp=diastolic, pulse=pulse,
            temperature_c=Decimal(temperature).scaleb(-1), respiratory_rate=resp, spo2=spo2,
            weight_kg=Decimal(round(weight * 10)).scaleb(-1), height_cm=Decimal(round(height * 10)).scaleb(-1),
            treatment_plan=dx.plan + (f" Tái khám sau {dx.follow_up} ngày." if follow_up else ""),
            follow_up_date=follow_up, signed_by_id=None, signed_at=signed, created_at=a.start, updated_at=signed)

    def lab_rows(self, b, ids, enc_id: int, a: Appt, test: str, dx: Dx) -> None:
        rng, now = self.rng, self.now
        name, _price, analytes = LAB_TESTS[test]
        ids["lab_order"] += 1
        order_id = ids["lab_order"]
        ordered = a.start + timedelta(minutes=rng.randint(5, 15))
        resulted = ordered + timedelta(minutes=rng.randint(60, 240))
        final = resulted <= now - timedelta(hours=6)
        b["lab_order"].append(dict(
            id=order_id, encounter_id=enc_id, patient_id=a.patient, doctor_id=a.doctor + 1, test_code=test,
            lab_test_id=getattr(self, "lab_test_ids", {}).get(test),
            test_name=name, status="completed" if final else "in_progress", notes=None, created_at=ordered,
            updated_at=resulted))
        abnormal = dx.code in ("E11.9", "R73.9", "E78.5", "D50.9", "K76.0")
        for analyte, unit, low, high, decimals in analytes:
            span = high - low
            r = rng.random()
            if abnormal and r < 0.6 or r < 0.12:
                value = high + span * rng.uniform(0.05, 0.6) if rng.random() < 0.75 else low - span * rng.uniform(
                    0.02, 0.2)
            else:
                value = rng.uniform(low + span * 0.05, high - span * 0.05)
            if analyte.startswith("HGB") and dx.code == "D50.9":
                value = rng.uniform(85, 115)
            value = max(value, 0.0)
            flag = "high" if value > high else "low" if value < low else "normal"
            if flag == "high" and value > high + span:
                flag = "critical"
            text_value = f"{value:.{decimals}f}"
            ids["lab_result"] += 1
            released = final and rng.random() < 0.8
            b["lab_result"].append(dict(
                id=ids["lab_result"], lab_order_id=order_id, analyte=analyte, value=text_value,
                numeric_value=Decimal(text_value), unit=unit,
                reference_range=f"{low:.{decimals}f}–{high:.{decimals}f}", flag=flag,
                ref_low=Decimal(f"{low:.{decimals}f}"), ref_high=Decimal(f"{high:.{decimals}f}"),
                status="final" if final else "preliminary", released_to_patient=released,
                released_at=resulted + timedelta(hours=1) if released else None,
                resulted_at=resulted, resulted_by_id=None, created_at=resulted, updated_at=resulted))


    def write_patients_and_visits(self) -> None:
        rng, now = self.rng, self.now
        history_minutes = max(int((now - self.utc(self.history_start, 7 * 60)).total_seconds() // 60), 60)
        extra = self.patient_rows_extra
        order = ("appointment", "appointment_event", "encounter", "diagnosis", "lab_order", "lab_result",
                 "prescription", "prescription_item", "invoice", "invoice_line", "payment", "refund", "review")
        tables: dict[str, Any] = {"appointment": Appointment, "appointment_event": AppointmentEvent,
                  "encounter": Encounter, "diagnosis": Diagnosis,
                  "lab_order": LabOrder, "lab_result": LabResult, "prescription": Prescription,
                  "prescription_item": PrescriptionItem, "invoice": Invoice,
                  "invoice_line": InvoiceLine, "payment": Payment, "refund": Refund, "review": Review}
        patients = self.patients
        for chunk_start in range(0, len(patients), CHUNK):
            visits = self.visit_rows(self.chunk_appts.pop(chunk_start // CHUNK, []))
            rows = []
            for p in patients[chunk_start:chunk_start + CHUNK]:
                email, address, national_id, insurance, blood, allergies, contact, contact_phone = extra[p.id - 1]
                if p.first_visit is not None:
                    created = p.first_visit - timedelta(minutes=rng.randint(0, 3 * 24 * 60))
                else:
                    created = now - timedelta(minutes=rng.randint(60, history_minutes))
                rows.append(dict(
                    id=p.id, code=p.code, full_name=p.full_name, search_text=patient_search_text(p),  # type: ignore[arg-type]  # a draft has its fields
                    date_of_birth=p.dob, sex=p.sex, phone=p.phone, email=email, address=address,
                    national_id=national_id, insurance_number=insurance, blood_type=blood, allergies=allergies,
                    emergency_contact_name=contact, emergency_contact_phone=contact_phone, user_id=None,
                    created_at=created, updated_at=created))
            self.insert(Patient.__table__, rows)
            for name in order:
                self.insert(tables[name].__table__, visits.get(name, []))
            if self.progress is not None:
                self.progress(len(rows))

