"""Administration → Webhooks in a real browser (Debian's headless Chromium): an admin adds an
endpoint pointing at this site's own test receiver, a patient is registered (an outbox event), the
fan-out and delivery jobs run (in-process, as without Redis), and the admin sees the delivery
delivered and the payload on the test receiver's page with its signature verified; on a desktop in
English and on a phone's width in Vietnamese, nothing wider than the screen. Screenshots go to
``$SCREENSHOT_DIR`` when it is set."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# The menu's chrome (already translated) shows the page is Vietnamese; the new strings of this
# feature stay English until the integrator compiles their translations (NEW_STRINGS.tsv).
CHROME = {"en": "Administration", "vi": "Quản trị"}


def _register_patient(app) -> int:
    from app.extensions import db
    from app.models import Patient
    from app.services.people import next_patient_code

    with app.app_context():
        patient = Patient(full_name="Hoàng Thị Mai", phone="0987 654 321", code=next_patient_code(db.session))
        db.session.add(patient)
        db.session.commit()
        return patient.id


@pytest.mark.needs_chromium
@pytest.mark.parametrize("width, lang", [(1280, "en"), (390, "vi")])
def test_admin_sends_an_event_to_the_test_receiver(app, page_as, tmp_path, width, lang):
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page = page_as("admin", width=width)
    page.on("dialog", lambda dialog: dialog.accept())

    def shot(name: str) -> None:
        page.screenshot(path=str(shots / f"webhooks-{lang}-{width}-{name}.png"), full_page=True)
        assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1, name

    try:
        page.goto(f"{page.base_url}/clinic/language/{lang}?next=/webhooks/")
        page.wait_for_load_state()
        assert CHROME[lang] in page.content()
        assert page.locator("#webhooks-none").count() == 1
        shot("1-empty")
        page.locator("#webhook-receiver-link").click()
        page.wait_for_load_state()
        receiver_url = page.locator("#receiver-url").inner_text().strip()
        assert receiver_url.startswith(page.base_url + "/webhooks/test-receiver/")
        page.locator("#receiver-add").click()
        page.wait_for_load_state()
        assert page.locator("#url").input_value() == receiver_url
        # Saved with no event chosen: the form says so and keeps the address.
        page.locator("#webhook-save").click()
        page.wait_for_load_state()
        assert page.locator('[data-error="event_types"]').count() == 1
        assert page.locator("#url").input_value() == receiver_url
        shot("2-form-error")
        page.locator('input[name="event_types"][value="patient.registered"]').check()
        page.locator("#description").fill("Thử nghiệm — máy nhận của chính phòng khám")
        page.locator("#webhook-save").click()
        page.wait_for_load_state()
        endpoint_id = page.locator("#webhook-endpoint").get_attribute("data-endpoint")
        secret = page.locator("#webhook-secret [data-secret]").inner_text().strip()
        assert secret.startswith("whsec_")
        assert page.url == f"{page.base_url}/webhooks/{endpoint_id}/"  # a reload does not post the form again
        shot("3-created")

        _register_patient(app)
        with app.app_context():
            from app.jobs import webhooks as jobs

            assert jobs.fan_out() == 1  # no Redis: the delivery job runs at once, POSTing to the live server

        page.goto(f"{page.base_url}/webhooks/")
        page.wait_for_load_state()
        shot("4-list")
        page.locator(f'tr[data-endpoint="{endpoint_id}"] a').click()
        page.wait_for_load_state()
        row = page.locator("#webhook-deliveries tr[data-delivery]")
        assert row.count() == 1 and row.get_attribute("data-status") == "delivered"
        assert "patient.registered" in row.inner_text()
        assert page.locator("#webhook-secret").count() == 0  # shown once
        shot("5-delivered")

        page.goto(f"{page.base_url}/webhooks/test-receiver/")
        page.wait_for_load_state()
        received = page.locator("[data-received]")
        assert received.count() == 1 and received.get_attribute("data-verified") == "yes"
        assert '"type": "patient.registered"' in received.inner_text()
        shot("6-received")
    finally:
        page.goto(f"{page.base_url}/clinic/language/en?next=/")
        page.context.close()
