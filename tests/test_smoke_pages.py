"""Every page a person can open answers without a server error, as in production: CSRF on, as
admin and as a patient, with some records in place."""
from __future__ import annotations

import re

import pytest


def page_urls(app, ids: dict[str, int]) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(("/static", "/api/", "/swagger", "/appbuilder")):
            continue
        if "logout" in rule.rule or set(rule.arguments) - {"pk"}:
            continue
        if "<pk>" in rule.rule:
            view = rule.endpoint.split(".")[0]
            resource = view.removesuffix("View")
            if resource not in ids:
                continue
            urls.append(rule.rule.replace("<pk>", str(ids[resource])))
        else:
            urls.append(rule.rule)
    return sorted(set(urls))


@pytest.fixture
def records(api, clinic) -> dict[str, int]:
    return {"Patient": clinic.patient, "Doctor": clinic.doctor, "Service": clinic.service,
            "Appointment": clinic.appointment, "Invoice": clinic.invoice, "Encounter": clinic.encounter,
            "Medicine": clinic.medicine, "Prescription": clinic.prescription, "LabOrder": clinic.lab_order}


@pytest.mark.parametrize("username", ["admin", "receptionist", "patient"])
def test_no_page_fails_with_csrf_on(app, login_as, records, username):
    browser = login_as(username)
    failures = []
    for url in page_urls(app, records):
        response = browser.get(url)
        if response.status_code >= 500:
            failures.append((url, response.status_code))
        if response.status_code == 200 and response.mimetype == "text/html":
            assert not re.search(r"Traceback \(most recent call last\)", response.get_data(as_text=True)), url
    assert not failures, failures
