"""The Azure Blob Storage adapter against Azurite, Microsoft's emulator from npm, started here on a
free loopback port with in-memory storage (``npm install --prefix .tools azurite``; skipped with
that line when it is absent, a failure under CI=true). The real Azure service is not reached."""
from __future__ import annotations

import io
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest

from tests.system_parts import AZURITE_BLOB

pytestmark = pytest.mark.needs_azurite

# Azurite's well-known development account (public, documented by Microsoft).
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
SMALL_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def azurite(tmp_path_factory):
    """The connection string of a fresh Azurite blob service on loopback."""
    port = _free_port()
    folder = tmp_path_factory.mktemp("azurite")
    process = subprocess.Popen(
        [AZURITE_BLOB, "--silent", "--skipApiVersionCheck", "--inMemoryPersistence", "--blobHost", "127.0.0.1",
         "--blobPort", str(port)],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # nothing written in the checkout
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Azurite did not start: {process.stderr.read().decode()[:500]}") from None
                time.sleep(0.2)
        yield (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={ACCOUNT_KEY};"
               f"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def store(azurite):
    from app.services.storage.azure import AzureBlobFileStore

    return AzureBlobFileStore(azurite, f"files-{os.urandom(4).hex()}")  # a container the first put makes


def _fetch(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def test_put_get_delete_round_trip(store):
    store.put("ab/key1.pdf", SMALL_PDF, "application/pdf")
    assert store.get("ab/key1.pdf") == SMALL_PDF
    properties = store.container.get_blob_client("ab/key1.pdf").get_blob_properties()
    assert properties.content_settings.content_type == "application/pdf"
    store.delete("ab/key1.pdf")
    with pytest.raises(KeyError):
        store.get("ab/key1.pdf")
    store.delete("ab/key1.pdf")  # deleting twice is not an error


def test_a_key_is_never_overwritten(store):
    store.put("k.pdf", SMALL_PDF, "application/pdf")
    with pytest.raises(FileExistsError):
        store.put("k.pdf", b"%PDF-other", "application/pdf")
    assert store.get("k.pdf") == SMALL_PDF


def test_the_signed_url_reads_one_blob_for_a_short_time(store):
    store.put("scan.pdf", SMALL_PDF, "application/pdf")
    url = store.url("scan.pdf", "kết quả.pdf", "application/pdf", timedelta(minutes=5))
    assert "sig=" in url and "sp=r" in url
    status, headers, body = _fetch(url)
    assert status == 200 and body == SMALL_PDF
    assert headers.get("content-disposition", "").startswith("attachment;")  # the SAS sets the download's name
    # the signature covers the blob name: another blob with the same query string is refused
    assert _fetch(url.replace("/scan.pdf?", "/other.pdf?"))[0] in (403, 404)
    expired = store.url("scan.pdf", "a.pdf", "application/pdf", timedelta(seconds=-120))
    assert _fetch(expired)[0] == 403
    # without a signature the private container answers nothing
    assert _fetch(url.split("?")[0])[0] in (403, 404)


def test_an_unreachable_service_raises_storage_unavailable():
    from app.services.storage import StorageUnavailable
    from app.services.storage.azure import AzureBlobFileStore

    dead = AzureBlobFileStore(
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{_free_port()}/devstoreaccount1;", "files", timeout=2)
    with pytest.raises(StorageUnavailable):
        dead.put("k.pdf", SMALL_PDF, "application/pdf")


def test_the_app_uploads_to_azure_and_redirects_to_a_signed_url(app, db, clinic, azurite, api_token):
    from PIL import Image

    from app.models import Attachment, Doctor, Encounter

    user = app.appbuilder.sm.find_user(username="doctor")
    doctor = db.session.query(Doctor).filter_by(user_id=user.id).one_or_none() or Doctor(
        full_name="Lê Văn Bác Sĩ", user_id=user.id)
    db.session.add(doctor)
    db.session.commit()
    visit = clinic.save(Encounter(patient_id=clinic.patient, doctor_id=doctor.id, chief_complaint="Đau đầu"))
    png = io.BytesIO()
    Image.new("RGB", (500, 300), (10, 120, 200)).save(png, "PNG")
    saved = dict(app.config)
    app.config.update(STORAGE_BACKEND="azure", AZURE_STORAGE_CONNECTION_STRING=azurite,
                      AZURE_STORAGE_CONTAINER=f"clinic-{os.urandom(3).hex()}")
    try:
        client, headers = app.test_client(), api_token("doctor")
        created = client.post(f"/api/v1/files/encounter/{visit}", headers=headers,
                              content_type="multipart/form-data",
                              data={"file": (io.BytesIO(png.getvalue()), "x-quang.png")})
        assert created.status_code == 201, created.get_json()
        result = created.get_json()["result"]
        download = client.get(result["download_url"], headers=headers)
        assert download.status_code == 302
        location = download.headers["Location"]
        assert location.startswith("http://127.0.0.1:") and "sig=" in location
        status, _headers, body = _fetch(location)
        assert status == 200 and body == png.getvalue()
        thumb = client.get(result["thumbnail_url"], headers=headers)  # streamed by the app from the blob
        assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/jpeg"
        attachment = db.session.get(Attachment, result["id"])
        assert not os.path.exists(os.path.join(app.config["UPLOAD_DIR"], attachment.storage_key))
    finally:
        app.config.clear()
        app.config.update(saved)
