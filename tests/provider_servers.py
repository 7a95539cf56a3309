"""Local stand-ins for Twilio's Messages API and Zalo's ZNS template endpoint, for the adapters'
tests (no real provider is reachable here). Each server checks every request's shape as the
provider documents it, answers as the provider does when the shape is wrong, and otherwise gives
the next scripted answer; every request is kept for the test to read.

Twilio: ``POST /2010-04-01/Accounts/<AccountSid>/Messages.json``, HTTP basic auth
``<AccountSid>:<AuthToken>``, a form body with ``To``, ``Body`` and ``From`` or
``MessagingServiceSid``; 201 with the message resource, or ``{"code", "message", "more_info",
"status"}`` with a 4xx/5xx (https://www.twilio.com/docs/sms/api/message-resource,
https://www.twilio.com/docs/usage/twilios-response).
Zalo: ``POST`` with the header ``access_token`` and a JSON body ``{"phone": "84...", "template_id",
"template_data": {...}, "tracking_id"}``; HTTP 200 with ``{"error": 0, "message": "Success",
"data": {"msg_id", ...}}`` or a non-zero ``error``.
"""
from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)

    @property
    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class FakeProvider:
    """A provider on 127.0.0.1:<port>; ``answers`` are (status, JSON body) given in turn (the last
    one repeats); an empty list: the success answer."""

    kind: str  # "twilio" | "zalo"
    account_sid: str = "AC" + "0" * 31 + "1"
    auth_token: str = "test-auth-token"
    access_token: str = "zalo-oa-access-token"
    answers: list[tuple[int, dict]] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeProvider":
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
                provider.requests.append(seen)
                status, body = provider.answer(seen)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def answer(self, seen: Seen) -> tuple[int, dict]:
        refused = self.twilio_refusal(seen) if self.kind == "twilio" else self.zalo_refusal(seen)
        if refused is not None:
            return refused
        if self.answers:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return self.twilio_created(seen) if self.kind == "twilio" else (200, zalo_success())

    # --- Twilio ---------------------------------------------------------------------------------
    def twilio_refusal(self, seen: Seen) -> tuple[int, dict] | None:
        if seen.path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return 404, twilio_error(20404, "The requested resource was not found", 404)
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if seen.headers.get("authorization") != expected:
            return 401, twilio_error(20003, "Authenticate", 401)
        if not seen.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return 400, twilio_error(20001, "Expected a form body", 400)
        form = seen.form
        if not form.get("To", [""])[0]:
            return 400, twilio_error(21604, "A 'To' phone number is required.", 400)
        if not form.get("From", [""])[0] and not form.get("MessagingServiceSid", [""])[0]:
            return 400, twilio_error(21603, "A 'From' phone number is required.", 400)
        if form.get("MessagingServiceSid") and not re.fullmatch(r"MG[0-9a-f]{32}", form["MessagingServiceSid"][0]):
            return 400, twilio_error(21701, "The Messaging Service Sid is invalid.", 400)
        if not form.get("Body", [""])[0]:
            return 400, twilio_error(21602, "Message body is required.", 400)
        if not re.fullmatch(r"\+[1-9]\d{6,14}", form["To"][0]):
            return 400, twilio_error(21211, f"Invalid 'To' Phone Number: {form['To'][0]}", 400)
        return None

    def twilio_created(self, seen: Seen) -> tuple[int, dict]:
        form = {name: values[0] for name, values in seen.form.items()}
        sid = "SM" + uuid.uuid4().hex
        return 201, {
            "account_sid": self.account_sid, "api_version": "2010-04-01", "body": form["Body"],
            "date_created": "Wed, 02 Dec 2026 02:30:00 +0000", "date_sent": None,
            "date_updated": "Wed, 02 Dec 2026 02:30:00 +0000", "direction": "outbound-api", "error_code": None,
            "error_message": None, "from": form.get("From"), "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0", "num_segments": "1", "price": None, "price_unit": "USD", "sid": sid,
            "status": "queued" if "MessagingServiceSid" not in form else "accepted", "to": form["To"],
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"}}

    # --- Zalo -----------------------------------------------------------------------------------
    def zalo_refusal(self, seen: Seen) -> tuple[int, dict] | None:
        if seen.headers.get("access_token") != self.access_token:
            return 200, {"error": -124, "message": "Access token invalid"}
        if not seen.headers.get("content-type", "").startswith("application/json"):
            return 200, {"error": -122, "message": "Body format invalid"}
        try:
            body = seen.json
        except ValueError:
            return 200, {"error": -122, "message": "Body format invalid"}
        if not isinstance(body, dict) or set(body) - {"phone", "template_id", "template_data", "tracking_id", "mode"}:
            return 200, {"error": -122, "message": "Body format invalid"}
        if not re.fullmatch(r"84\d{9,10}", str(body.get("phone", ""))):
            return 200, {"error": -108, "message": "Phone number invalid"}
        if not str(body.get("template_id", "")).strip():
            return 200, {"error": -109, "message": "Template ID invalid"}
        data = body.get("template_data")
        if not isinstance(data, dict) or not data:
            return 200, {"error": -111, "message": "Template data empty"}
        if not all(isinstance(value, str) for value in data.values()):
            return 200, {"error": -112, "message": "Template data invalid"}
        if not str(body.get("tracking_id", "")).strip():
            return 200, {"error": -112, "message": "tracking_id is required"}
        return None


def twilio_error(code: int, message: str, status: int) -> dict:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}


def zalo_success() -> dict:
    return {"error": 0, "message": "Success", "data": {
        "msg_id": uuid.uuid4().hex, "sent_time": "1796178600000",
        "quota": {"dailyQuota": "500", "remainingQuota": "499"}}}
