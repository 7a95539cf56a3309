"""The Cloudinary adapter against a local HTTP server standing in for Cloudinary's API: the SDK's
real requests (pointed at it with ``upload_prefix``) are recorded, and their signatures are
checked with the API secret the way Cloudinary checks them (the parameters sorted by name,
``key=value`` joined by ``&``, the secret appended, SHA-1 in hex; ``file``, ``api_key``,
``resource_type`` and ``signature`` itself left out). The real Cloudinary service is not reached."""
from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from datetime import timedelta
from email import message_from_bytes
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

API_KEY, API_SECRET, CLOUD = "123456789012345", "s3cr3t-Abc_def", "demo-clinic"
SMALL_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
UNSIGNED = {"file", "api_key", "resource_type", "signature", "cloud_name"}


def expected_signature(params: dict[str, str]) -> str:
    signed = "&".join(f"{key}={value}" for key, value in sorted(params.items()) if key not in UNSIGNED and value)
    return hashlib.sha1((signed + API_SECRET).encode()).hexdigest()


def multipart(content_type: str, body: bytes) -> tuple[dict[str, str], bytes | None]:
    """The form fields (text) and the ``file`` part's bytes of a multipart body."""
    message = message_from_bytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body, policy=HTTP)
    params, data = {}, None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if name == "file":
            data = payload
        else:
            params[name] = payload.decode()
    return params, data


class FakeCloudinary:
    """Records every call; keeps private assets by (resource type, public id)."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.assets: dict[tuple[str, str], bytes] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status: int, body: dict | bytes, kind: str = "application/json") -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _route(self) -> tuple[str, str, str]:
                parts = urlsplit(self.path).path.strip("/").split("/")  # v1_1/<cloud>/<type>/<action>
                return parts[1], parts[2], parts[3]

            def do_POST(self):  # noqa: N802 - http.server's naming
                cloud, resource_type, action = self._route()
                params, data = multipart(self.headers["Content-Type"],
                                         self.rfile.read(int(self.headers["Content-Length"])))
                call = {"action": action, "cloud": cloud, "resource_type": resource_type, "params": params,
                        "signature_ok": params.get("signature") == expected_signature(params)
                        and params.get("api_key") == API_KEY}
                server.calls.append(call)
                if not call["signature_ok"]:
                    return self._answer(401, {"error": {"message": "Invalid Signature"}})
                if abs(time.time() - int(params.get("timestamp", 0))) > 3600:
                    return self._answer(401, {"error": {"message": "Stale request"}})
                key = (resource_type, params["public_id"])
                if action == "upload":
                    if key in server.assets and params.get("overwrite") in ("0", "false"):
                        return self._answer(200, {"public_id": key[1], "existing": True})
                    server.assets[key] = data
                    return self._answer(200, {"public_id": key[1], "version": 1, "resource_type": resource_type,
                                              "type": params.get("type"), "bytes": len(data)})
                if action == "destroy":
                    found = server.assets.pop(key, None)
                    return self._answer(200, {"result": "ok" if found is not None else "not found"})
                return self._answer(404, {"error": {"message": "unknown action"}})

            def do_GET(self):  # noqa: N802
                cloud, resource_type, action = self._route()
                params = dict(parse_qsl(urlsplit(self.path).query))
                call = {"action": action, "cloud": cloud, "resource_type": resource_type, "params": params,
                        "signature_ok": params.get("signature") == expected_signature(params)}
                server.calls.append(call)
                if action != "download" or not call["signature_ok"]:
                    return self._answer(401, {"error": {"message": "Invalid Signature"}})
                if int(params.get("expires_at", 0)) < time.time():
                    return self._answer(401, {"error": {"message": "Expired"}})
                if params.get("type") != "private":
                    return self._answer(404, {"error": {"message": "Resource not found"}})
                public_id = params["public_id"]
                data = server.assets.get((resource_type, public_id))
                if data is None:
                    return self._answer(404, {"error": {"message": "Resource not found"}})
                return self._answer(200, data, "application/octet-stream")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.prefix = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def cloud():
    fake = FakeCloudinary()
    yield fake
    fake.close()


@pytest.fixture
def store(cloud):
    from app.services.storage.cloudinary import CloudinaryFileStore

    return CloudinaryFileStore(f"cloudinary://{API_KEY}:{API_SECRET}@{CLOUD}", upload_prefix=cloud.prefix)


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (300, 200), (0, 128, 0)).save(out, "PNG")
    return out.getvalue()


def test_a_pdf_is_a_signed_private_raw_upload_under_the_key(cloud, store):
    store.put("ab/0123456789abcdef.pdf", SMALL_PDF, "application/pdf")
    [call] = cloud.calls
    assert call["signature_ok"] and call["action"] == "upload" and call["cloud"] == CLOUD
    assert call["resource_type"] == "raw" and call["params"]["type"] == "private"
    assert call["params"]["public_id"] == "ab/0123456789abcdef.pdf"
    assert call["params"]["overwrite"] in ("0", "false")  # never replaces an asset
    assert cloud.assets[("raw", "ab/0123456789abcdef.pdf")] == SMALL_PDF
    assert store.get("ab/0123456789abcdef.pdf") == SMALL_PDF
    assert cloud.calls[-1]["action"] == "download" and cloud.calls[-1]["signature_ok"]


def test_an_image_is_an_image_resource_and_deletes(cloud, store):
    png = _png()
    store.put("cd/feedface.png", png, "image/png")
    assert cloud.calls[0]["resource_type"] == "image" and cloud.calls[0]["params"]["public_id"] == "cd/feedface"
    assert store.get("cd/feedface.png") == png
    store.delete("cd/feedface.png")
    assert cloud.calls[-1]["action"] == "destroy" and cloud.calls[-1]["signature_ok"]
    assert ("image", "cd/feedface") not in cloud.assets
    with pytest.raises(KeyError):
        store.get("cd/feedface.png")


def test_the_signed_url_is_short_lived_and_tamper_proof(cloud, store):
    import urllib.error
    import urllib.request

    store.put("ef/scan.pdf", SMALL_PDF, "application/pdf")
    url = store.url("ef/scan.pdf", "kết quả.pdf", "application/pdf", timedelta(minutes=5))
    assert url.startswith(cloud.prefix) and "signature=" in url and "expires_at=" in url
    with urllib.request.urlopen(url, timeout=5) as answer:
        assert answer.read() == SMALL_PDF
    params = dict(parse_qsl(urlsplit(url).query))
    assert int(params["expires_at"]) <= time.time() + 5 * 60 + 2
    with pytest.raises(urllib.error.HTTPError) as tampered:
        urllib.request.urlopen(url.replace("ef%2Fscan.pdf", "ef%2Fother.pdf"), timeout=5)
    assert tampered.value.code == 401
    expired = store.url("ef/scan.pdf", "a.pdf", "application/pdf", timedelta(seconds=-60))
    with pytest.raises(urllib.error.HTTPError) as late:
        urllib.request.urlopen(expired, timeout=5)
    assert late.value.code == 401


def test_a_wrong_secret_is_refused_and_reported_as_unavailable(cloud):
    from app.services.storage import StorageUnavailable
    from app.services.storage.cloudinary import CloudinaryFileStore

    wrong = CloudinaryFileStore(f"cloudinary://{API_KEY}:not-the-secret@{CLOUD}", upload_prefix=cloud.prefix)
    with pytest.raises(StorageUnavailable):
        wrong.put("k.pdf", SMALL_PDF, "application/pdf")
    assert cloud.calls[0]["signature_ok"] is False and cloud.assets == {}


def test_an_unreachable_service_raises_storage_unavailable():
    from app.services.storage import StorageUnavailable
    from app.services.storage.cloudinary import CloudinaryFileStore

    dead = CloudinaryFileStore(f"cloudinary://{API_KEY}:{API_SECRET}@{CLOUD}", upload_prefix="http://127.0.0.1:9")
    with pytest.raises(StorageUnavailable):
        dead.put("k.pdf", SMALL_PDF, "application/pdf")


def test_a_malformed_url_is_refused():
    from app.services.storage import StorageUnavailable
    from app.services.storage.cloudinary import CloudinaryFileStore

    with pytest.raises(StorageUnavailable):
        CloudinaryFileStore("https://example.invalid/")


def test_the_app_uploads_to_cloudinary_and_redirects_to_a_signed_url(app, db, clinic, cloud, api_token):
    from app.models import Doctor, Encounter

    user = app.appbuilder.sm.find_user(username="doctor")
    doctor = db.session.query(Doctor).filter_by(user_id=user.id).one_or_none() or Doctor(
        full_name="Lê Văn Bác Sĩ", user_id=user.id)
    db.session.add(doctor)
    db.session.commit()
    visit = clinic.save(Encounter(patient_id=clinic.patient, doctor_id=doctor.id, chief_complaint="Đau bụng"))
    saved = dict(app.config)
    app.config.update(STORAGE_BACKEND="cloudinary", CLOUDINARY_URL=f"cloudinary://{API_KEY}:{API_SECRET}@{CLOUD}",
                      CLOUDINARY_UPLOAD_PREFIX=cloud.prefix)
    try:
        client, headers = app.test_client(), api_token("doctor")
        created = client.post(f"/api/v1/files/encounter/{visit}", headers=headers, content_type="multipart/form-data",
                              data={"file": (io.BytesIO(_png()), "ảnh.png")})
        assert created.status_code == 201, created.get_json()
        uploads = [c for c in cloud.calls if c["action"] == "upload"]
        assert len(uploads) == 2 and all(c["signature_ok"] for c in uploads)  # the image and its thumbnail
        assert all("ảnh" not in c["params"]["public_id"] for c in uploads)
        result = created.get_json()["result"]
        download = client.get(result["download_url"], headers=headers)
        assert download.status_code == 302 and download.headers["Location"].startswith(cloud.prefix)
        thumb = client.get(result["thumbnail_url"], headers=headers)
        assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/jpeg"
    finally:
        app.config.clear()
        app.config.update(saved)
