"""The start page shows today's figures, each only to those who may read what it counts."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone


def figures(page: str) -> dict[str, int]:
    return {key: int(value) for key, value in re.findall(r'data-figure="(\w+)">(\d+)<', page)}


def test_anonymous_visitors_are_asked_to_log_in(client):
    page = client.get("/").get_data(as_text=True)
    assert "/login/" in page and "data-figure" not in page


def test_patients_are_sent_to_the_patient_portal(login_as):
    response = login_as("patient").get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/clinic/me/appointments"


def test_figures_count_today_in_the_clinic_zone(api, clinic, login_as, app, db):
    """Today's visits are put straight into the database: the booking rules would refuse the
    hours of today that have passed already."""
    from zoneinfo import ZoneInfo

    from app.models import Appointment

    zone = ZoneInfo(app.config["CLINIC_TIMEZONE"])
    today_local = datetime.now(zone).replace(hour=10, minute=0, second=0, microsecond=0)
    for start, status in ((today_local, "confirmed"), (today_local + timedelta(minutes=30), "checked_in"),
                          (today_local + timedelta(days=1), "confirmed"), (today_local, "cancelled")):
        db.session.add(Appointment(patient_id=clinic.patient, doctor_id=clinic.doctor, service_id=clinic.service,
                                   start_at=start, end_at=start + timedelta(minutes=20), status=status))
    db.session.commit()
    assert clinic.invoice  # issued, unpaid
    seen = figures(login_as("receptionist").get("/").get_data(as_text=True))
    assert seen["appointments_today"] == 2
    assert seen["waiting_now"] == 1
    assert seen["unpaid_invoices"] == 1
    assert seen["new_patients_this_month"] >= 1
    assert "batches_expiring" not in seen  # stock batches are not the front desk's


def test_pharmacists_see_stock_figures(api, clinic, login_as):
    medicine = api.create("medicine", {"code": "AMO500", "name": "Amoxicillin", "unit": "viên", "price": 2000,
                                       "reorder_level": 100})
    soon = (datetime.now(timezone.utc) + timedelta(days=10)).date().isoformat()
    api.create("stock_batch", {"medicine": medicine, "lot_number": "A1", "expiry_date": soon, "quantity": 20})
    seen = figures(login_as("pharmacist").get("/").get_data(as_text=True))
    assert seen["batches_expiring"] == 1
    assert seen["medicines_below_reorder"] == 1
    assert "unpaid_invoices" not in seen and "appointments_today" not in seen


def test_stock_tiles_open_the_filtered_pharmacy_pages(api, clinic, login_as):
    """A pharmacist's "below reorder" tile opens the stock list filtered to those medicines and the
    expiring tile the pharmacy dashboard; a receptionist (who reads medicines, not stock) keeps the
    medicine list."""
    api.create("medicine", {"code": "AMO500", "name": "Amoxicillin", "unit": "viên", "price": 2000,
                            "reorder_level": 100})
    pharmacist = login_as("pharmacist").get("/").get_data(as_text=True)
    assert 'href="/pharmacy/stock?below=1"' in pharmacist and 'href="/pharmacy/dashboard"' in pharmacist
    receptionist = login_as("receptionist").get("/").get_data(as_text=True)
    assert "/pharmacy/" not in receptionist
