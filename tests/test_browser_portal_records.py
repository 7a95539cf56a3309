"""The patient reads their record in a real browser (Debian's headless Chromium): logs in, opens
My visits from the portal's home, one visit, My results and My files, and downloads the visit
summary PDF; on a desktop and a phone's width, in English and in Vietnamese. Screenshots go to
``$SCREENSHOT_DIR`` when it is set."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.test_portal_records import PRIVATE, pdf_text, records  # noqa: F401  (the fixture)

TEXT = {
    "en": {"visits": "My visits", "results": "My results", "files": "My files", "diagnoses": "Diagnoses",
           "prescriptions": "Prescriptions", "pdf": "Download the summary (PDF)", "high": "Above the normal range",
           "open": "Open this visit"},
    "vi": {"visits": "Các lần khám của tôi", "results": "Kết quả xét nghiệm của tôi", "files": "Tệp của tôi",
           "diagnoses": "Chẩn đoán", "prescriptions": "Đơn thuốc", "pdf": "Tải bản tóm tắt (PDF)",
           "high": "Cao hơn bình thường", "open": "Xem lần khám này"},
}


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_a_patient_reads_their_visits_results_and_files(app, page_as, records, tmp_path, width, lang):  # noqa: F811
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    text = TEXT[lang]
    page = page_as(records.owner_login, width=width)
    base = page.base_url

    def shot(name: str) -> None:
        page.screenshot(path=str(shots / f"portal-records-{lang}-{width}-{name}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (name, overflow)
        assert PRIVATE not in page.content()

    page.goto(f"{base}/clinic/language/{lang}?next=/clinic/me/appointments")
    page.click(f"main a:has-text('{text['visits']}')")
    page.wait_for_url("**/clinic/me/visits")
    assert page.locator(".pub-visit").count() == 2
    assert page.locator(".pub-visit").first.get_attribute("data-id") == str(records.signed)
    shot("1-visits")

    page.locator(".pub-visit").first.locator(f"a:has-text('{text['open']}')").click()
    page.wait_for_url(f"**/clinic/me/visits/{records.signed}")
    assert page.locator("#diagnoses h2").inner_text() == text["diagnoses"]
    assert page.locator("#prescriptions h2").inner_text() == text["prescriptions"]
    assert page.locator(".pub-medicine").count() == 2
    assert "J02.9" in page.locator("#diagnoses").inner_text()
    shot("2-visit")

    with page.expect_download() as download_info:
        page.click(f"a:has-text('{text['pdf']}')")
    download = download_info.value
    assert download.suggested_filename.endswith(f"-{records.signed}.pdf")
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"%PDF")
    summary = pdf_text(data)
    assert text["diagnoses"] in summary and text["prescriptions"] in summary and "Viêm họng cấp" in summary
    assert PRIVATE not in summary

    page.click(f".pub-records-nav a:has-text('{text['results']}')")
    page.wait_for_url("**/clinic/me/results")
    high = page.locator(f'.pub-result[data-id="{records.result_high}"]')
    assert text["high"] in high.inner_text()
    assert high.locator(".pub-flag-high").is_visible()
    shot("3-results")

    page.click(f".pub-records-nav a:has-text('{text['files']}')")
    page.wait_for_url("**/clinic/me/files")
    assert page.locator(".pub-file").count() == 2
    with page.expect_download() as file_info:
        page.click("a:has-text('Phim X-quang ngực.pdf')")
    assert Path(file_info.value.path()).read_bytes() == b"%PDF-1.4 chest x-ray"
    shot("4-files")
