"""The pharmacy's pages and REST API: the queue, dispensing with its plan, returns, adjustments,
goods receipts, stock views; the generic batch screens that cannot change a quantity; permissions
per role."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.models import GoodsReceipt, Prescription, StockBatch, StockMovement, Supplier
from app.models.types import utcnow
from app.services.dispensing import clinic_today
from app.services.stock import verify_ledger
from tests.factories import page_csrf_token
from tests.pharmacy_helpers import batch, item_ids, medicine, prescription, stock_of


def _today():
    from zoneinfo import ZoneInfo

    from app.services.settings import ClinicSettings

    return clinic_today(utcnow(), ClinicSettings(timezone=ZoneInfo("Asia/Ho_Chi_Minh")))


def _days(n: int) -> str:
    return (_today() + timedelta(days=n)).isoformat()


def _ledger(db) -> int:
    return db.session.execute(select(func.count()).select_from(StockMovement)).scalar_one()


# ---- the generic screens and REST resource cannot change a quantity ----------------------------


def test_generic_batch_api_refuses_a_quantity_change(db, api, clinic):
    created = api.create("stock_batch", {"medicine": clinic.medicine, "lot_number": "Lô 7",
                                         "expiry_date": "2028-01-31", "quantity": 120, "unit_cost": 800})
    response = api.put("stock_batch", created, {"quantity": 95})
    assert response.status_code == 422 and "quantity" in response.get_json()["message"]
    assert api.put("stock_batch", created, {"unit_cost": 850}).status_code == 200
    assert api.show("stock_batch", created)["quantity"] == 120
    assert [(m.kind, m.quantity) for m in db.session.execute(select(StockMovement)).scalars()] == [("receipt", 120)]


def test_generic_batch_screen_has_no_quantity_to_edit(db, clinic, login_as):
    created = batch(db, clinic.medicine, 40, 300)
    browser = login_as("pharmacist")
    page = browser.get(f"/stockbatchview/edit/{created}")
    assert page.status_code == 200 and 'name="quantity"' not in page.get_data(as_text=True)
    token = page_csrf_token(page.get_data(as_text=True))
    browser.post(f"/stockbatchview/edit/{created}", data={
        "csrf_token": token, "medicine": clinic.medicine, "lot_number": "X1", "expiry_date": _days(300),
        "unit_cost": "500", "quantity": "5"})
    assert stock_of(db, created) == 40 and verify_ledger(db.session) == []


def test_stock_verify_command(app, db, clinic):
    created = batch(db, clinic.medicine, 40, 300)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["stock", "verify"])
    assert result.exit_code == 0 and "adds up" in result.output
    db.session.execute(StockBatch.__table__.update().where(StockBatch.id == created).values(quantity=41))
    db.session.commit()
    result = runner.invoke(args=["stock", "verify"])
    assert result.exit_code == 1 and f"batch {created}" in result.output and "+1" in result.output


def test_medicines_load(app, db, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("code,name,active_ingredient,strength,dosage_form,unit,price,reorder_level\n"
                    "amox500,Amoxicillin,Amoxicillin,500 mg,viên nang,viên,2500,100\n"
                    "PARA500,Panadol,Paracetamol,500 mg,viên nén,viên,1200,200\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["medicines", "load", str(good)])
    assert result.exit_code == 0 and "2 added" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,price\nAMOX500,Amoxicillin 2,abc\n,No code,1\nNEW1,New,1\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["medicines", "load", str(bad)])
    assert result.exit_code == 1 and "line 2" in result.output and "line 3" in result.output
    result = app.test_cli_runner().invoke(args=["medicines", "load", str(good)])
    assert "0 added, 2 updated" in result.output


# ---- dispensing through the pages --------------------------------------------------------------


def test_queue_and_dispense_page(db, clinic, login_as):
    med = medicine(db)
    early, late = batch(db, med, 3, 100), batch(db, med, 30, 400)
    pid = prescription(db, clinic, (med, 5))
    [item] = item_ids(db, pid)
    browser = login_as("pharmacist")
    queue = browser.get("/pharmacy/queue").get_data(as_text=True)
    assert f"RX-{pid:06d}" in queue and "Nguyễn Văn An" in queue
    page = browser.get(f"/pharmacy/dispense/{pid}")
    html = page.get_data(as_text=True)
    assert f'name="qty_{item}"' in html and 'value="5"' in html
    token = page_csrf_token(html)
    plan = browser.post(f"/pharmacy/dispense/{pid}", data={"csrf_token": token, f"qty_{item}": "5",
                                                           "action": "preview"}).get_data(as_text=True)
    assert 'id="plan"' in plan and _ledger(db) == 2
    refused = browser.post(f"/pharmacy/dispense/{pid}", data={"csrf_token": token, f"qty_{item}": "6",
                                                              "action": "confirm"})
    assert refused.status_code == 422 and _ledger(db) == 2
    done = browser.post(f"/pharmacy/dispense/{pid}", data={"csrf_token": token, f"qty_{item}": "5",
                                                           "action": "confirm"})
    assert done.status_code == 302
    assert (stock_of(db, early), stock_of(db, late)) == (0, 28)
    assert db.session.get(Prescription, pid).status == "dispensed"
    assert f"RX-{pid:06d}" not in browser.get("/pharmacy/queue").get_data(as_text=True)
    back = browser.post(f"/pharmacy/return/{item}", data={"csrf_token": token, "quantity": "2",
                                                          "reason": "Bệnh nhân trả lại", "prescription_id": pid})
    assert back.status_code == 302 and stock_of(db, late) == 30
    db.session.expire_all()
    assert db.session.get(Prescription, pid).status == "partially_dispensed"


def test_adjust_page_needs_a_reason(db, clinic, login_as):
    created = batch(db, clinic.medicine, 40, 300)
    browser = login_as("pharmacist")
    page = browser.get(f"/pharmacy/adjust/{created}").get_data(as_text=True)
    token = page_csrf_token(page)
    refused = browser.post(f"/pharmacy/adjust/{created}", data={"csrf_token": token, "delta": "-3", "reason": ""})
    assert refused.status_code == 422 and stock_of(db, created) == 40
    saved = browser.post(f"/pharmacy/adjust/{created}", data={"csrf_token": token, "delta": "-3", "reason": "damage",
                                                              "note": "Vỡ 3 viên"})
    assert saved.status_code == 302 and stock_of(db, created) == 37 and verify_ledger(db.session) == []


def test_receive_page_names_every_broken_line_then_receives(db, clinic, login_as):
    supplier = Supplier(name="Dược Hậu Giang", lead_time_days=5)
    db.session.add(supplier)
    db.session.commit()
    med = clinic.medicine
    browser = login_as("pharmacist")
    token = page_csrf_token(browser.get("/pharmacy/receive").get_data(as_text=True))
    bad = browser.post("/pharmacy/receive", data={
        "csrf_token": token, "supplier": supplier.id, "rows": 6,
        "medicine_0": med, "lot_0": "A1", "expiry_0": _days(-1), "quantity_0": "10", "cost_0": "500",
        "medicine_1": med, "lot_1": "A2", "expiry_1": _days(20), "quantity_1": "0", "cost_1": "500"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and html.count('class="help-block"') == 3
    assert db.session.execute(select(func.count()).select_from(GoodsReceipt)).scalar_one() == 0
    good = browser.post("/pharmacy/receive", data={
        "csrf_token": token, "supplier": supplier.id, "rows": 6, "delivery_note": "HD-0091",
        "medicine_0": med, "lot_0": "A1", "expiry_0": _days(400), "quantity_0": "100", "cost_0": "500",
        "medicine_1": med, "lot_1": "A2", "expiry_1": _days(500), "quantity_1": "50", "cost_1": "1.200"})
    assert good.status_code == 302
    receipt = browser.get(good.headers["Location"]).get_data(as_text=True)
    assert "HD-0091" in receipt and "A1" in receipt and "A2" in receipt
    assert db.session.execute(select(func.sum(StockBatch.quantity))).scalar_one() == 150
    assert verify_ledger(db.session) == []


def test_stock_dashboard_and_medicine_pages(db, clinic, login_as):
    med = medicine(db, "Amoxicillin", reorder_level=50)
    batch(db, med, 20, 30)
    batch(db, med, 5, -1)
    browser = login_as("doctor")  # doctors read stock
    stock = browser.get("/pharmacy/stock?below=1").get_data(as_text=True)
    assert "Amoxicillin" in stock
    dashboard = browser.get("/pharmacy/dashboard").get_data(as_text=True)
    assert 'id="expiring"' in dashboard and "Amoxicillin" in dashboard
    assert browser.get(f"/pharmacy/medicine/{med}").status_code == 200
    assert browser.get("/pharmacy/queue").status_code in (302, 403)  # but do not dispense
    assert browser.get("/static-vendor/plotly.min.js").status_code == 200


def test_vietnamese_pages_write_dates_and_decimals_the_vietnamese_way(db, clinic, login_as):
    """dd/mm/yyyy HH:MM and a decimal comma (the tester saw 2026-12-02 03:28 and "0.5")."""
    from app.services import dispensing
    from tests.pharmacy_helpers import NOW

    supplier = Supplier(name="Dược Hậu Giang", lead_time_days=5)
    db.session.add(supplier)
    db.session.commit()
    med = medicine(db, "Salbutamol", supplier_id=supplier.id)
    batch(db, med, 100, 300)
    pid = prescription(db, clinic, (med, 15))  # 15 over the 30 days: 0,5 a day
    dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, NOW)
    waiting = prescription(db, clinic, (med, 2))
    browser = login_as("pharmacist")
    browser.get("/clinic/language/vi")
    local = (NOW + timedelta(hours=7)).strftime("%d/%m/%Y %H:%M")  # the clinic is in Hà Nội
    queue = browser.get("/pharmacy/queue?days=all").get_data(as_text=True)
    assert f"RX-{waiting:06d}" in queue and local in queue and NOW.strftime("%Y-%m-%d") not in queue
    page = browser.get(f"/pharmacy/medicine/{med}").get_data(as_text=True)
    summary = page[page.index('id="summary"'):page.index("</p>", page.index('id="summary"'))]
    assert local in page and "0,5" in summary and "0.5" not in summary
    stock = browser.get("/pharmacy/stock").get_data(as_text=True)
    assert "<td data-label=\"Dùng mỗi ngày\">0,5</td>" in stock


def test_ledger_reference_is_what_a_pharmacist_recognises(db, clinic, login_as):
    supplier = Supplier(name="Dược Hậu Giang", lead_time_days=5)
    db.session.add(supplier)
    db.session.commit()
    med = clinic.medicine
    opened = batch(db, med, 20, 300)
    pid = prescription(db, clinic, (med, 4))
    browser = login_as("pharmacist")
    token = page_csrf_token(browser.get(f"/pharmacy/dispense/{pid}").get_data(as_text=True))
    [item] = item_ids(db, pid)
    browser.post(f"/pharmacy/dispense/{pid}", data={"csrf_token": token, f"qty_{item}": "4", "action": "confirm"})
    browser.post(f"/pharmacy/adjust/{opened}", data={"csrf_token": token, "delta": "-1", "reason": "damage"})
    received = browser.post("/pharmacy/receive", data={
        "csrf_token": token, "supplier": supplier.id, "rows": 6, "delivery_note": "HD-7",
        "medicine_0": med, "lot_0": "B1", "expiry_0": _days(400), "quantity_0": "10", "cost_0": "500"})
    receipt_id = int(received.headers["Location"].rsplit("/", 1)[1])
    page = browser.get(f"/pharmacy/medicine/{med}").get_data(as_text=True)
    ledger = page[page.index('id="ledger"'):]
    for internal in ("prescription_item", "stock_batch", "goods_receipt"):
        assert internal not in ledger
    assert f"RX-{pid:06d}" in ledger and "Nguyễn Văn An" in ledger
    assert f'href="/pharmacy/receipt/{receipt_id}"' in ledger and f"Goods receipt #{receipt_id}" in ledger
    assert 'class="reference">Adjustment</td>' in ledger
    assert 'class="reason"> ·' not in ledger and 'class="reason">·' not in ledger


def test_partial_dispense_message_names_each_item_with_its_unit(db, clinic, login_as):
    from app.models import Medicine

    inhaler = medicine(db, "Ventolin")
    db.session.get(Medicine, inhaler).unit = "bình xịt"
    db.session.commit()
    tablets = medicine(db, "Amoxicillin")
    batch(db, inhaler, 1, 300)
    batch(db, tablets, 20, 300)
    pid = prescription(db, clinic, (inhaler, 2), (tablets, 30))
    first, second = item_ids(db, pid)
    browser = login_as("pharmacist")
    token = page_csrf_token(browser.get(f"/pharmacy/dispense/{pid}").get_data(as_text=True))
    done = browser.post(f"/pharmacy/dispense/{pid}", data={"csrf_token": token, f"qty_{first}": "2",
                                                           f"qty_{second}": "30", "action": "confirm"},
                        follow_redirects=True)
    html = done.get_data(as_text=True)
    assert "Ventolin 500 mg 1 bình xịt" in html and "Amoxicillin 500 mg 20 viên" in html
    assert "Ventolin 500 mg 1 bình xịt; Amoxicillin 500 mg 10 viên" in html  # what is short, per item
    assert "21 units" not in html


def test_receive_takes_a_dd_mm_yyyy_expiry_in_vietnamese(db, clinic, login_as):
    supplier = Supplier(name="Dược Hậu Giang", lead_time_days=5)
    db.session.add(supplier)
    db.session.commit()
    browser = login_as("pharmacist")
    browser.get("/clinic/language/vi")
    form = browser.get("/pharmacy/receive").get_data(as_text=True)
    assert 'type="date"' not in form and 'placeholder="dd/mm/yyyy"' in form
    token = page_csrf_token(form)
    expiry = _today() + timedelta(days=400)
    bad = browser.post("/pharmacy/receive", data={
        "csrf_token": token, "supplier": supplier.id, "rows": 6, "medicine_0": clinic.medicine, "lot_0": "C1",
        "expiry_0": "31/02/2028x", "quantity_0": "10", "cost_0": "500"})
    assert bad.status_code == 422 and "dd/mm/yyyy" in bad.get_data(as_text=True)
    good = browser.post("/pharmacy/receive", data={
        "csrf_token": token, "supplier": supplier.id, "rows": 6, "medicine_0": clinic.medicine, "lot_0": "C1",
        "expiry_0": expiry.strftime("%d/%m/%Y"), "quantity_0": "10", "cost_0": "500"})
    assert good.status_code == 302
    stored = select(StockBatch.expiry_date).where(StockBatch.lot_number == "C1")
    assert db.session.execute(stored).scalar_one() == expiry
    receipt = browser.get(good.headers["Location"]).get_data(as_text=True)
    assert expiry.strftime("%d/%m/%Y") in receipt and utcnow().strftime("%Y-%m-%d") not in receipt


def test_usage_chart_axis_includes_today(app, db, clinic):
    import json

    from app.views.pharmacy_pages import _usage_chart
    from tests.pharmacy_helpers import TODAY

    with app.test_request_context():
        figure = json.loads(_usage_chart([(TODAY, 4)], TODAY))
    start, end = figure["layout"]["xaxis"]["range"]
    assert end > f"{TODAY.isoformat()} 00:00" and start < (TODAY - timedelta(days=90)).isoformat()


def test_queue_filters_by_age(db, clinic, login_as):
    med = medicine(db)
    batch(db, med, 10, 300)
    old = prescription(db, clinic, (med, 1))
    db.session.get(Prescription, old).issued_at = utcnow() - timedelta(days=120)
    recent = prescription(db, clinic, (med, 1))
    db.session.get(Prescription, recent).issued_at = utcnow() - timedelta(days=1)
    db.session.commit()
    browser = login_as("pharmacist")
    default = browser.get("/pharmacy/queue").get_data(as_text=True)
    assert f"RX-{recent:06d}" in default and f"RX-{old:06d}" not in default
    everything = browser.get("/pharmacy/queue?days=all").get_data(as_text=True)
    assert f"RX-{recent:06d}" in everything and f"RX-{old:06d}" in everything


@pytest.mark.parametrize("role,read,write", [("pharmacist", True, True), ("doctor", True, False),
                                             ("manager", True, False), ("receptionist", False, False)])
def test_permissions_per_role(db, clinic, api_token, app, role, read, write):
    med = medicine(db)
    created = batch(db, med, 10, 300)
    pid = prescription(db, clinic, (med, 1))
    client = app.test_client()
    headers = api_token(role)
    assert (client.get("/api/v1/pharmacy/stock", headers=headers).status_code == 200) is read
    assert (client.get("/api/v1/pharmacy/dashboard", headers=headers).status_code == 200) is read
    response = client.post(f"/api/v1/pharmacy/prescriptions/{pid}/dispense", json={}, headers=headers)
    assert (response.status_code == 201) is write, response.get_json()
    adjusted = client.post(f"/api/v1/pharmacy/batches/{created}/adjust", headers=headers,
                           json={"delta": -1, "reason": "loss"})
    assert (adjusted.status_code == 201) is write
    assert stock_of(db, created) == (8 if write else 10)


# ---- the REST API --------------------------------------------------------------------------------


def test_api_dispense_return_adjust_receive(db, clinic, api_token, app):
    client, headers = app.test_client(), api_token("pharmacist")
    med = medicine(db)
    first = batch(db, med, 4, 100)
    pid = prescription(db, clinic, (med, 10))
    [item] = item_ids(db, pid)
    queue = client.get("/api/v1/pharmacy/queue?q=nguyen", headers=headers).get_json()["result"]
    assert [r["prescription_id"] for r in queue] == [pid] and queue[0]["items"][0]["in_stock"] == 4
    for body in ({"items": [{"item_id": item, "quantity": 0}]}, {"items": [{"item_id": item, "quantity": 11}]},
                 {"items": [{"item_id": item, "quantity": -2}]}, {"items": [{"item_id": item, "quantity": "x"}]},
                 {"itemz": []}):
        refused = client.post(f"/api/v1/pharmacy/prescriptions/{pid}/dispense", json=body, headers=headers)
        assert refused.status_code == 422, (body, refused.get_json())
    assert _ledger(db) == 1
    plan = client.post(f"/api/v1/pharmacy/prescriptions/{pid}/preview", json={}, headers=headers).get_json()
    assert plan["shortfall"] == 6 and plan["items"][0]["takes"][0]["batch_id"] == first
    done = client.post(f"/api/v1/pharmacy/prescriptions/{pid}/dispense", json={}, headers=headers)
    assert done.status_code == 201 and done.get_json()["status"] == "partially_dispensed"
    none_left = client.post(f"/api/v1/pharmacy/prescriptions/{pid}/dispense", json={}, headers=headers)
    assert none_left.status_code == 409
    back = client.post(f"/api/v1/pharmacy/items/{item}/return", json={"quantity": 1, "reason": "Trả lại"},
                       headers=headers)
    assert back.status_code == 201 and stock_of(db, first) == 1
    assert client.post(f"/api/v1/pharmacy/batches/{first}/adjust", json={"delta": -1}, headers=headers
                       ).status_code == 422
    supplier = Supplier(name="Zuellig Pharma", lead_time_days=7)
    db.session.add(supplier)
    db.session.commit()
    refused = client.post("/api/v1/pharmacy/receipts", headers=headers, json={"supplier_id": supplier.id, "lines": [
        {"medicine_id": med, "lot_number": "B1", "expiry_date": _days(-3), "quantity": 5},
        {"medicine_id": med, "lot_number": "B2", "expiry_date": _days(30), "quantity": 5}]})
    assert refused.status_code == 422
    assert set(refused.get_json()["message"]) == {"lines.0.expiry_date", "lines.1.expiry_date"}
    received = client.post("/api/v1/pharmacy/receipts", headers=headers, json={"supplier_id": supplier.id, "lines": [
        {"medicine_id": med, "lot_number": "B1", "expiry_date": _days(400), "quantity": 5, "unit_cost": 700}]})
    assert received.status_code == 201
    again = client.post("/api/v1/pharmacy/receipts", headers=headers, json={"supplier_id": supplier.id, "lines": [
        {"medicine_id": med, "lot_number": "B1", "expiry_date": _days(400), "quantity": 3, "unit_cost": 700}]})
    assert again.get_json()["lines"][0]["batch_id"] == received.get_json()["lines"][0]["batch_id"]
    assert stock_of(db, received.get_json()["lines"][0]["batch_id"]) == 8
    assert verify_ledger(db.session) == []
