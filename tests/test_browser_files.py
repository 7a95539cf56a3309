"""Files in a real browser (Debian's headless Chromium): the doctor attaches a PNG and a PDF to
their visit at /visit/<id>, sees the thumbnail and the PDF icon, and downloads the PDF; on a
desktop and a phone's width, in English and in Vietnamese. Screenshots go to ``$SCREENSHOT_DIR``
when it is set."""
from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from tests.desk_helpers import login_doctor
from tests.test_files import SMALL_PDF, png_bytes

TEXT = {
    "en": {"section": "Files", "attached": "was attached.", "refused": "Only PDF files and images"},
    "vi": {"section": "Tệp đính kèm", "attached": "Đã đính kèm", "refused": "Chỉ đính kèm được tệp PDF và ảnh"},
}


@pytest.fixture
def visit(app, db, clinic):
    from app.models import Encounter

    doctor = login_doctor(app, db)
    return clinic.save(Encounter(patient_id=clinic.patient, doctor_id=doctor.id, chief_complaint="Ho kéo dài"))


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_the_doctor_attaches_a_png_and_a_pdf_and_downloads(page_as, visit, tmp_path, width, lang):
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page = page_as("doctor", width=width)
    page.goto(f"{page.base_url}/clinic/language/{lang}?next=/visit/{visit}")
    page.wait_for_load_state()
    text = TEXT[lang]

    def shot(name: str) -> None:
        page.screenshot(path=str(shots / f"files-{lang}-{width}-{name}.png"), full_page=True)
        assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1, name

    section = page.locator("#files")
    assert text["section"] in section.inner_text()
    assert section.locator(".attachment-empty").count() == 1
    shot("1-empty")

    files = tmp_path / "in"
    files.mkdir()
    (files / "x-quang phổi.png").write_bytes(png_bytes((800, 600)))
    (files / "giấy chuyển viện.pdf").write_bytes(SMALL_PDF)
    (files / "not-a-scan.pdf").write_bytes(b"MZ\x90\x00 an executable, not a PDF" * 20)

    section.locator("input[type=file]").set_input_files(str(files / "x-quang phổi.png"))
    section.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert text["attached"] in page.content()
    thumb = page.locator("#files img.attachment-thumb")
    thumb.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    assert page.evaluate("img => img.naturalWidth", thumb.element_handle()) <= 320

    page.locator("#files input[type=file]").set_input_files(str(files / "giấy chuyển viện.pdf"))
    page.locator("#files button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("#files .fa-file-pdf-o").count() == 1
    assert page.locator("#files .attachment-item").count() == 2
    shot("2-two-files")

    page.locator("#files input[type=file]").set_input_files(str(files / "not-a-scan.pdf"))
    page.locator("#files button[type=submit]").click()
    page.wait_for_load_state()
    assert text["refused"] in page.content()
    assert page.locator("#files .attachment-item").count() == 2
    shot("3-refused")

    pdf_item = page.locator("#files .attachment-item", has_text="giấy chuyển viện.pdf")
    with page.expect_download() as download_info:
        pdf_item.locator(".attachment-download").click()
    download = download_info.value
    assert download.suggested_filename == "giấy chuyển viện.pdf"
    target = tmp_path / "downloaded.pdf"
    download.save_as(str(target))
    assert target.read_bytes() == SMALL_PDF
    assert io.BytesIO(target.read_bytes()).read(5) == b"%PDF-"
