"""Files attached to a visit or a lab order (issue 9, item 8): the type is read from the bytes, the
size is limited, the key is random, a failing store leaves nothing behind, and only the patient's
care team reads the files (audited). Through the visit page's form, the REST API and the service."""
from __future__ import annotations

import io
import os
from datetime import datetime, timezone

import pytest

SMALL_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
             b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def png_bytes(size=(640, 480), colour=(200, 30, 30)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def visit(app, db, clinic):
    """A draft encounter of the test patient written by the ``doctor`` login."""
    from app.models import Doctor, Encounter

    user = app.appbuilder.sm.find_user(username="doctor")
    doctor = db.session.query(Doctor).filter_by(user_id=user.id).one_or_none()
    if doctor is None:
        doctor = Doctor(full_name="Lê Văn Bác Sĩ", user_id=user.id)
        db.session.add(doctor)
        db.session.commit()
    return clinic.save(Encounter(patient_id=clinic.patient, doctor_id=doctor.id, chief_complaint="Ho kéo dài"))


def rows(db):
    from app.models import Attachment

    db.session.expire_all()
    return db.session.query(Attachment).all()


def stored_files(app) -> list[str]:
    found = []
    for folder, _dirs, names in os.walk(app.config["UPLOAD_DIR"]):
        found += [os.path.join(folder, name) for name in names]
    return sorted(found)


def post_file(browser, visit_id: int, name: str, data: bytes, content_type: str = "application/octet-stream"):
    return browser.post(f"/files/upload/encounter/{visit_id}", content_type="multipart/form-data",
                        data={"file": (io.BytesIO(data), name, content_type), "next": f"/visit/{visit_id}"})


def page_text(browser, visit_id: int) -> str:
    return browser.get(f"/visit/{visit_id}").get_data(as_text=True)


# --- type by content -------------------------------------------------------------------------

def test_a_file_that_claims_to_be_a_pdf_but_is_not_is_refused(app, db, visit, login_as):
    doctor = login_as("doctor")
    before = stored_files(app)
    answer = post_file(doctor, visit, "ket-qua.pdf", b"<html>not a pdf</html>" * 10, "application/pdf")
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"/visit/{visit}#files")
    assert "Only PDF files and images" in page_text(doctor, visit)
    assert rows(db) == []
    assert stored_files(app) == before


def test_a_real_pdf_is_attached_under_a_random_key_and_downloads(app, db, visit, login_as):
    doctor = login_as("doctor")
    answer = post_file(doctor, visit, "../../giấy chuyển viện.pdf", SMALL_PDF, "image/png")  # the browser's type lies
    assert answer.status_code == 302
    [attachment] = rows(db)
    assert attachment.content_type == "application/pdf"  # from the bytes, not the browser
    assert attachment.file_name == "giấy chuyển viện.pdf"  # display name only, no folders
    assert "chuy" not in attachment.storage_key and ".." not in attachment.storage_key
    assert len(attachment.storage_key.rsplit("/", 1)[-1].split(".")[0]) == 32
    assert attachment.thumbnail_key is None
    html = page_text(doctor, visit)
    assert "giấy chuyển viện.pdf" in html and "fa-file-pdf-o" in html
    download = doctor.get(f"/files/{attachment.id}")
    assert download.status_code == 200 and download.data == SMALL_PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert "attachment" in download.headers["Content-Disposition"]


def test_a_png_gets_a_thumbnail(app, db, visit, login_as):
    from PIL import Image

    doctor = login_as("doctor")
    post_file(doctor, visit, "x-quang phổi.png", png_bytes())
    [attachment] = rows(db)
    assert attachment.content_type == "image/png" and attachment.thumbnail_key
    assert attachment.thumbnail_key != attachment.storage_key
    html = page_text(doctor, visit)
    assert f"/files/{attachment.id}/thumbnail" in html
    thumb = doctor.get(f"/files/{attachment.id}/thumbnail")
    assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/jpeg"
    image = Image.open(io.BytesIO(thumb.data))
    assert max(image.size) <= 320 and image.size[0] > image.size[1]


def test_a_png_header_on_garbage_is_refused(app, db, visit, login_as):
    doctor = login_as("doctor")
    post_file(doctor, visit, "scan.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    assert "damaged" in page_text(doctor, visit)
    assert rows(db) == []


def test_an_image_with_too_many_pixels_is_refused(app, db, visit, login_as):
    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (9_000, 9_000)).save(out, "PNG")  # a few KB on disk, 81 million pixels decoded
    assert len(out.getvalue()) < 1024 * 1024
    doctor = login_as("doctor")
    post_file(doctor, visit, "bomb.png", out.getvalue())
    assert "too large to open" in page_text(doctor, visit)
    assert rows(db) == []


def test_a_file_over_the_limit_is_refused_413(app, db, visit, api_token):
    app.config["UPLOAD_MAX_BYTES"] = 1000
    try:
        answer = app.test_client().post(f"/api/v1/files/encounter/{visit}", headers=api_token("doctor"),
                                        data={"file": (io.BytesIO(SMALL_PDF + b" " * 1000), "big.pdf")},
                                        content_type="multipart/form-data")
    finally:
        app.config["UPLOAD_MAX_BYTES"] = 10 * 1024 * 1024
    assert answer.status_code == 413
    assert "larger than the limit of 1000 B" in answer.get_json()["message"]["file"][0]
    assert rows(db) == []


def test_a_body_far_over_the_limit_is_not_even_read(app, db, visit, api_token, login_as):
    app.config["UPLOAD_MAX_BYTES"] = 1000
    try:
        big = SMALL_PDF + b" " * 200_000
        answer = app.test_client().post(f"/api/v1/files/encounter/{visit}", headers=api_token("doctor"),
                                        data={"file": (io.BytesIO(big), "big.pdf")},
                                        content_type="multipart/form-data")
        assert answer.status_code == 413 and "1000 B" in answer.get_json()["message"]["file"][0]
        doctor = login_as("doctor")
        page = post_file(doctor, visit, "big.pdf", big)
        assert page.status_code == 302 and page.headers["Location"].endswith(f"/visit/{visit}#files")
        assert "larger than the limit" in page_text(doctor, visit)
    finally:
        app.config["UPLOAD_MAX_BYTES"] = 10 * 1024 * 1024
    assert rows(db) == []


# --- nothing half-written ---------------------------------------------------------------------

class RecordingStore:
    """A store that keeps files in memory and can be told to fail."""

    def __init__(self, fail_put: bool = False):
        self.files: dict[str, bytes] = {}
        self.fail_put = fail_put

    def put(self, key, data, content_type):
        from app.services.storage import StorageUnavailable

        if self.fail_put:
            raise StorageUnavailable("connection refused")
        self.files[key] = data

    def get(self, key):
        return self.files[key]

    def delete(self, key):
        self.files.pop(key, None)

    def url(self, key, file_name, content_type, expires):
        return None


def _user(app, name):
    return app.appbuilder.sm.find_user(username=name)


NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def test_an_unreachable_store_fails_the_upload_with_no_row(app, db, visit):
    from app.services import attachments

    store = RecordingStore(fail_put=True)
    with app.test_request_context(), pytest.raises(attachments.StorageDown) as refused:
        attachments.upload(db.session, "encounter", visit, "a.png", png_bytes(), _user(app, "doctor"), NOW,
                           store=store)
    assert refused.value.status == 503 and "nothing was saved" in refused.value.message
    assert rows(db) == [] and store.files == {}


def test_a_row_that_cannot_be_written_takes_its_stored_bytes_with_it(app, db, visit, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    from app.services import attachments
    from app.services.errors import DomainError

    store = RecordingStore()
    real_commit = db.session.commit
    calls = {"n": 0}

    def failing_commit():
        if any(type(obj).__name__ == "Attachment" for obj in db.session.new):
            calls["n"] += 1
            raise IntegrityError("INSERT", {}, Exception("disk full"))
        return real_commit()

    monkeypatch.setattr(db.session, "commit", failing_commit)
    with app.test_request_context(), pytest.raises(DomainError):
        attachments.upload(db.session, "encounter", visit, "a.png", png_bytes(), _user(app, "doctor"), NOW,
                           store=store)
    monkeypatch.undo()
    assert calls["n"] == 1
    assert store.files == {}  # the image and its thumbnail, stored first, are gone again
    assert rows(db) == []


def test_an_unreachable_azure_store_answers_503_over_the_api(app, db, visit, api_token):
    saved = dict(app.config)
    app.config.update(STORAGE_BACKEND="azure", AZURE_STORAGE_CONNECTION_STRING=(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey="
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
        "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;"))
    try:
        answer = app.test_client().post(f"/api/v1/files/encounter/{visit}", headers=api_token("doctor"),
                                        data={"file": (io.BytesIO(SMALL_PDF), "a.pdf")},
                                        content_type="multipart/form-data")
    finally:
        app.config.clear()
        app.config.update(saved)
    assert answer.status_code == 503
    assert "cannot be reached" in answer.get_json()["message"]
    assert rows(db) == []


# --- who may attach and read ---------------------------------------------------------------------

def test_a_signed_visit_takes_no_files_and_the_form_is_gone(app, db, visit, login_as):
    from app.models import Encounter

    encounter = db.session.get(Encounter, visit)
    encounter.signed_at = NOW
    db.session.commit()
    doctor = login_as("doctor")
    html = page_text(doctor, visit)
    assert 'name="file"' not in html and "Files can no longer be added" in html
    post_file(doctor, visit, "a.pdf", SMALL_PDF)
    assert "signed" in page_text(doctor, visit)
    assert rows(db) == []


def test_an_outsider_cannot_read_the_file_and_the_refusal_is_audited(app, db, visit, login_as, api_token):
    from app.models import AuditEvent

    post_file(login_as("doctor"), visit, "a.pdf", SMALL_PDF)
    [attachment] = rows(db)
    admin = login_as("admin")  # not in the patient's care: must break the glass first
    assert admin.get(f"/files/{attachment.id}").status_code == 403
    api = app.test_client().get(f"/api/v1/files/{attachment.id}/download", headers=api_token("admin"))
    assert api.status_code == 403 and api.data != SMALL_PDF
    listing = app.test_client().get(f"/api/v1/files/encounter/{visit}", headers=api_token("admin"))
    assert listing.status_code == 403
    denied = db.session.query(AuditEvent).filter_by(action="denied", entity="Attachment").count()
    assert denied >= 3
    # and the outsider cannot attach either
    assert post_file(admin, visit, "b.pdf", SMALL_PDF).status_code == 302
    assert len(rows(db)) == 1


def test_a_read_leaves_an_audit_row(app, db, visit, login_as):
    from app.models import AuditEvent

    doctor = login_as("doctor")
    post_file(doctor, visit, "a.pdf", SMALL_PDF)
    [attachment] = rows(db)
    assert doctor.get(f"/files/{attachment.id}").status_code == 200
    reads = db.session.query(AuditEvent).filter_by(action="read", entity="Attachment",
                                                  entity_id=str(attachment.id)).count()
    assert reads == 1


def test_a_patient_login_gets_no_back_office_file(app, db, visit, login_as):
    post_file(login_as("doctor"), visit, "a.pdf", SMALL_PDF)
    [attachment] = rows(db)
    answer = login_as("patient").get(f"/files/{attachment.id}")
    assert answer.status_code in (302, 403) and answer.data != SMALL_PDF


# --- REST API -------------------------------------------------------------------------------------

def test_api_upload_list_download(app, db, visit, api_token):
    client, headers = app.test_client(), api_token("doctor")
    created = client.post(f"/api/v1/files/encounter/{visit}", headers=headers, content_type="multipart/form-data",
                          data={"file": (io.BytesIO(png_bytes()), "ảnh da.png")})
    assert created.status_code == 201, created.get_json()
    result = created.get_json()["result"]
    assert result["content_type"] == "image/png" and result["has_thumbnail"] and result["file_name"] == "ảnh da.png"
    listing = client.get(f"/api/v1/files/encounter/{visit}", headers=headers).get_json()["result"]
    assert [f["id"] for f in listing] == [result["id"]]
    download = client.get(result["download_url"], headers=headers)
    assert download.status_code == 200 and download.data == png_bytes()
    assert client.get(result["thumbnail_url"], headers=headers).headers["Content-Type"] == "image/jpeg"


def test_api_upload_with_the_session_needs_the_csrf_header(app, db, visit, login_as):
    doctor = login_as("doctor")
    refused = doctor.post(f"/api/v1/files/encounter/{visit}", csrf=False, content_type="multipart/form-data",
                          data={"file": (io.BytesIO(SMALL_PDF), "a.pdf")})
    assert refused.status_code == 400 and rows(db) == []
    accepted = doctor.post(f"/api/v1/files/encounter/{visit}", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(SMALL_PDF), "a.pdf")})
    assert accepted.status_code == 201


def test_api_no_file_and_unknown_owner(app, db, visit, api_token):
    client, headers = app.test_client(), api_token("doctor")
    empty = client.post(f"/api/v1/files/encounter/{visit}", headers=headers, content_type="multipart/form-data",
                        data={})
    assert empty.status_code == 422 and "file" in empty.get_json()["message"]
    missing = client.post("/api/v1/files/encounter/999999", headers=headers, content_type="multipart/form-data",
                          data={"file": (io.BytesIO(SMALL_PDF), "a.pdf")})
    assert missing.status_code == 404


def test_api_upload_refuses_fields_the_server_sets(app, db, visit, api_token):
    answer = app.test_client().post(
        f"/api/v1/files/encounter/{visit}", headers=api_token("doctor"), content_type="multipart/form-data",
        data={"file": (io.BytesIO(SMALL_PDF), "a.pdf"), "uploaded_by": "1", "storage_key": "../../x"})
    assert answer.status_code == 422
    assert set(answer.get_json()["message"]) == {"uploaded_by", "storage_key"}
    assert rows(db) == []


def test_the_ordering_doctor_attaches_to_a_lab_order(app, db, visit, clinic, api_token):
    from app.models import Encounter, LabOrder

    encounter = db.session.get(Encounter, visit)
    order = clinic.save(LabOrder(patient_id=encounter.patient_id, encounter_id=visit, doctor_id=encounter.doctor_id,
                                 test_code="CBC", test_name="Công thức máu"))
    client = app.test_client()
    created = client.post(f"/api/v1/files/lab_order/{order}", headers=api_token("doctor"),
                          content_type="multipart/form-data", data={"file": (io.BytesIO(SMALL_PDF), "cbc.pdf")})
    assert created.status_code == 201
    refused = client.post(f"/api/v1/files/lab_order/{order}", headers=api_token("receptionist"),
                          content_type="multipart/form-data", data={"file": (io.BytesIO(SMALL_PDF), "cbc.pdf")})
    assert refused.status_code == 403
    assert len(rows(db)) == 1


# --- the generic screens no longer take storage keys ------------------------------------------------

def test_the_generic_screen_and_resource_cannot_make_an_attachment(app, db, clinic, api, login_as):
    admin = login_as("admin")
    assert admin.get("/attachmentview/add").status_code in (302, 403, 404)
    admin.post("/attachmentview/add", data={"patient": clinic.patient, "owner_type": "patient",
                                            "owner_id": clinic.patient, "file_name": "x.pdf",
                                            "content_type": "application/pdf", "size_bytes": 1,
                                            "storage_key": "../../config.py"})
    assert api.post("attachment", {"owner_type": "patient", "storage_key": "k"}).status_code in (404, 405)
    assert rows(db) == []


def test_clean_name():
    from app.services.attachments import clean_name

    assert clean_name("C:\\scans\\phim\x00 phổi .png", "image/png") == "phim phổi .png"
    assert clean_name("", "application/pdf") == "file.pdf"
    assert clean_name("a" * 300 + ".pdf", "application/pdf").endswith(".pdf")
    assert len(clean_name("a" * 300 + ".pdf", "application/pdf")) == 255
