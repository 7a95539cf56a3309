"""The dashboards page, its downloads and the JSON API (issue 14): who may see them, the figures'
tables in the reader's language, CSV and XLSX contents, bad input named field by field."""
from __future__ import annotations

import csv
import io
import re

import pytest

from tests.dashboard_data import build
from tests.factories import token_headers

NOV = {"start": "01/11/2026", "end": "30/11/2026", "grain": "month"}


@pytest.fixture
def ids(db):
    return build(db.session)


@pytest.mark.parametrize("role, status", [("manager", 200), ("admin", 200), ("receptionist", 403),
                                          ("doctor", 403), ("cashier", 403), ("pharmacist", 403)])
def test_who_sees_the_dashboards(login_as, role, status):
    browser = login_as(role)
    response = browser.get("/dashboards/")
    if status == 403:  # FAB sends a reader without the permission away
        assert response.status_code in (302, 403)
        assert browser.get("/dashboards/visits.csv", query_string=NOV).status_code in (302, 403)
    else:
        assert response.status_code == 200
        assert browser.get("/dashboards/visits.csv", query_string=NOV).status_code == 200


@pytest.mark.parametrize("role, status", [("manager", 200), ("admin", 200), ("receptionist", 403),
                                          ("doctor", 403), ("cashier", 403)])
def test_who_reads_the_api(app, client, role, status):
    response = client.get("/api/v1/dashboards/figure", headers=token_headers(app, role),
                          query_string={"figure": "visits", "start": "2026-11-01", "end": "2026-11-30"})
    assert response.status_code == status


def test_the_page_shows_every_figure_in_vietnamese(login_as, ids):
    browser = login_as("manager")
    browser.get("/lang/vi")
    html = browser.get("/dashboards/", query_string=NOV).get_data(as_text=True).replace("\xa0", " ")
    assert html.count('class="panel panel-default dash-panel"') == 12
    assert "/static-vendor/plotly.min.js" in html and "cdn" not in html.lower()
    revenue = html[html.index('id="fig-revenue_by_method"'):html.index('id="fig-outstanding"')]
    assert "200.000 ₫" in revenue and "11/2026" in revenue
    attendance = html[html.index('id="fig-attendance"'):html.index('id="fig-waits"')]
    assert "20,0%" in attendance
    service = html[html.index('id="fig-revenue_by_service"'):html.index('id="fig-revenue_by_doctor"')]
    assert "180.000 ₫" in service and "Khám" in service
    assert 'value="01/11/2026"' in html
    browser.get("/lang/en")
    html = browser.get("/dashboards/", query_string={**NOV, "start": "2026-11-01"}).get_data(as_text=True)
    revenue = html[html.index('id="fig-revenue_by_method"'):html.index('id="fig-outstanding"')]
    assert "200,000" in revenue and "2026-11" in revenue


def test_the_default_range_is_the_last_six_months(login_as):
    html = login_as("manager").get("/dashboards/").get_data(as_text=True)
    assert html.count("dash-panel") >= 12
    assert "help-block" not in html


def test_bad_filters_are_named_all_at_once(login_as, ids):
    browser = login_as("manager")
    response = browser.get("/dashboards/", query_string={"start": "30/11/2026", "end": "01/11/2026",
                                                         "grain": "year", "doctor": "999999",
                                                         "department": "999999"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    named = set(re.findall(r'data-field="(\w+)"', html))
    assert named == {"end", "grain", "doctor", "department"}
    assert "dash-panel" not in html
    response = browser.get("/dashboards/", query_string={"start": "01/01/2020", "end": "01/02/2026"})
    assert response.status_code == 422 and "three years" in response.get_data(as_text=True)
    response = browser.get("/dashboards/", query_string={"start": "31/02/2026", "end": "x"})
    assert response.status_code == 422
    assert set(re.findall(r'data-field="(\w+)"', response.get_data(as_text=True))) == {"start", "end"}
    response = browser.get("/dashboards/visits.csv", query_string={"start": "30/11/2026", "end": "01/11/2026"})
    assert response.status_code == 422 and "end" in response.get_json()["message"]
    assert browser.get("/dashboards/nothing.csv", query_string=NOV).status_code == 404


def test_csv_download(login_as, ids):
    response = login_as("manager").get("/dashboards/revenue_by_method.csv",
                                       query_string={"start": "01/11/2026", "end": "31/12/2026", "grain": "month"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert 'filename="revenue_by_method_2026-11-01_2026-12-31.csv"' in response.headers["Content-Disposition"]
    text = response.get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["Period", "Cash", "Bank transfer", "Card", "VNPay", "Total"],
                    ["2026-11-01", "200000", "0", "0", "0", "200000"],
                    ["2026-12-01", "0", "0", "40000", "0", "40000"]]
    attendance = login_as("manager").get("/dashboards/attendance.csv", query_string=NOV).get_data().decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(attendance)))[1] == ["2026-11-01", "5", "1", "20.0", "1", "20.0"]


def test_xlsx_download(login_as, ids):
    from datetime import datetime

    from openpyxl import load_workbook

    browser = login_as("manager")
    browser.get("/lang/vi")
    response = browser.get("/dashboards/revenue_by_service.xlsx", query_string=NOV)
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.get_data()))
    sheet = book.active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[1] == ["Dịch vụ", "Doanh thu"]
    assert values[2:] == [["Khám", 180000], ["Khác", 100000], ["Thuốc", 50000]]
    assert sheet.cell(row=3, column=2).number_format == "#,##0"
    response = browser.get("/dashboards/visits.xlsx", query_string=NOV)
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    assert sheet.cell(row=3, column=1).value == datetime(2026, 11, 1)
    assert sheet.cell(row=3, column=1).number_format == "dd/mm/yyyy"
    assert sheet.cell(row=3, column=2).value == 3


def test_api_figure(app, client, ids):
    headers = token_headers(app, "manager")
    response = client.get("/api/v1/dashboards/figure", headers=headers, query_string={
        "figure": "revenue_by_method", "start": "2026-11-01", "end": "2026-12-31", "grain": "month"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["rows"][0] == {"period": "2026-11-01", "cash": "200000.00", "bank_transfer": "0.00", "card": "0.00",
                               "vnpay": "0.00", "total": "200000.00"}
    response = client.get("/api/v1/dashboards/figure", headers=headers, query_string={
        "figure": "visits", "start": "2026-11-01", "end": "2026-11-30", "doctor_id": ids.doctor_a})
    assert response.get_json()["rows"] == [{"period": "2026-11-01", "visits": 2}]
    stock = client.get("/api/v1/dashboards/figure", headers=headers, query_string={
        "figure": "stock", "start": "2026-12-01", "end": "2026-12-31"}).get_json()
    assert stock["totals"] == {"stock_value": "65000.00", "expiring_value": "45000.00"}


def test_api_bad_input_names_every_field(app, client, ids):
    headers = token_headers(app, "manager")
    response = client.get("/api/v1/dashboards/figure", headers=headers, query_string={
        "figure": "visits", "start": "2026-11-30", "end": "2026-11-01", "doctor_id": 999999,
        "department_id": 999999})
    assert response.status_code == 422
    assert set(response.get_json()["message"]) == {"end", "doctor_id", "department_id"}
    response = client.get("/api/v1/dashboards/figure", headers=headers, query_string={
        "figure": "nope", "start": "2026-13-01", "grain": "year", "extra": "1"})
    assert response.status_code in (400, 422)
    assert set(response.get_json()["message"]) >= {"figure", "start", "end", "grain", "extra"}
    response = client.get("/api/v1/dashboards/figure", headers=headers, query_string={
        "figure": "visits", "start": "2020-01-01", "end": "2026-11-01"})
    assert response.status_code == 422 and "end" in response.get_json()["message"]


def test_month_comparison_this_month_against_last(db, ids):
    from datetime import date
    from decimal import Decimal

    from app.services.overview import month_comparison
    from app.services.settings import ClinicSettings
    from tests.test_dashboards import ZONE

    figures = {f.key: f for f in month_comparison(db.session, date(2026, 12, 2), ClinicSettings(timezone=ZONE))}
    assert (figures["visits"].this_month, figures["visits"].last_month) == (0, 3)
    assert (figures["new_patients"].this_month, figures["new_patients"].last_month) == (0, 2)
    assert (figures["money_taken"].this_month, figures["money_taken"].last_month) == (Decimal("40000.00"),
                                                                                    Decimal("200000.00"))
    assert figures["no_show_rate"].last_month == 0.2
    assert figures["average_wait"].last_month == 15.0


@pytest.mark.parametrize("role, shown", [("manager", True), ("admin", True), ("receptionist", False),
                                         ("cashier", False)])
def test_home_shows_the_month_to_managers(login_as, role, shown):
    html = login_as(role).get("/").get_data(as_text=True)
    assert ('id="month-figures"' in html) is shown
    if shown:
        assert html.count("data-month-figure=") == 5
