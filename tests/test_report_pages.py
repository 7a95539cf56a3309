"""The reports page (issue 14, item 2): who may use it, the PDF download, bad input named field by
field."""
from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from tests.dashboard_data import build


@pytest.fixture
def ids(db):
    return build(db.session)


def named(response) -> set[str]:
    return set(re.findall(r'data-field="(\w+)"', response.get_data(as_text=True)))


@pytest.mark.parametrize("role, allowed", [("manager", True), ("admin", True), ("receptionist", False),
                                           ("doctor", False), ("cashier", False), ("pharmacist", False)])
def test_who_gets_the_reports(login_as, role, allowed):
    browser = login_as(role)
    page = browser.get("/reports/")
    pdf = browser.get("/reports/", query_string={"report": "monthly", "month": "2026-11", "language": "en"})
    if allowed:
        assert page.status_code == 200 and 'id="report-form"' in page.get_data(as_text=True)
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    else:  # FAB sends a reader without the permission away
        assert page.status_code in (302, 403) and pdf.status_code in (302, 403)


def test_monthly_pdf_download_in_vietnamese(login_as, ids):
    response = login_as("manager").get("/reports/", query_string={"report": "monthly", "month": "11/2026",
                                                                   "language": "vi"})
    assert response.status_code == 200
    assert 'filename="report-2026-11.pdf"' in response.headers["Content-Disposition"]
    text = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
    assert "Báo cáo tháng" in text and "Kỳ: 11/2026" in text


def test_takings_for_a_range_of_days(login_as, ids):
    response = login_as("manager").get("/reports/", query_string={"report": "takings", "start": "01/11/2026",
                                                                   "end": "30/11/2026", "language": "en"})
    assert response.status_code == 200
    text = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
    assert "Cashier takings" in text and "Total" in text and "200,000" in text  # the cash taken in November


def test_bad_input_is_named(login_as, ids):
    browser = login_as("manager")
    unknown = browser.get("/reports/", query_string={"report": "monthly", "month": "13/2026"})
    assert unknown.status_code == 422 and named(unknown) == {"month"}
    future = browser.get("/reports/", query_string={"report": "quarterly", "quarter": "2999-Q1"})
    assert future.status_code == 422 and named(future) == {"quarter"}
    reversed_range = browser.get("/reports/", query_string={"report": "medicines", "start": "30/11/2026",
                                                            "end": "01/11/2026"})
    assert reversed_range.status_code == 422 and named(reversed_range) == {"end"}
    unreadable = browser.get("/reports/", query_string={"report": "takings", "start": "31/02/2026", "end": ""})
    assert unreadable.status_code == 422 and named(unreadable) == {"start", "end"}
    assert browser.get("/reports/", query_string={"report": "yearly"}).status_code == 422
