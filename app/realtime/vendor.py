"""socket.io's browser client from an installed package, served by the app (no CDN, nothing
copied into the repository). The Socket.IO project publishes its client on npm only; the PyPI
package that ships it is NiceGUI (``nicegui/static/socket.io.min.js``, the 4.x client, which speaks
the protocol python-socketio 5 serves). It is found without importing NiceGUI."""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from flask import Flask, Response, abort, request

PACKAGE = "nicegui"
MAX_AGE = 365 * 24 * 3600  # the URL carries the package's version


def client_path() -> Path | None:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "static" / "socket.io.min.js"
    return path if path.is_file() else None


@lru_cache(maxsize=1)
def client_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "missing"


@lru_cache(maxsize=1)
def _client_bytes() -> tuple[bytes, bytes, str] | None:
    path = client_path()
    if path is None:
        return None
    raw = path.read_bytes()
    return raw, gzip.compress(raw, compresslevel=9, mtime=0), hashlib.sha256(raw).hexdigest()[:32]


def vendor_socketio() -> Response:
    found = _client_bytes()
    if found is None:
        abort(404)
    raw, packed, etag = found
    gz = request.accept_encodings["gzip"] > 0
    response = Response(packed if gz else raw, mimetype="text/javascript")
    if gz:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.set_etag(f"{etag}-gz" if gz else etag)
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE}, immutable"
    response.make_conditional(request)
    return response


def register(app: Flask) -> None:
    app.add_url_rule("/static-vendor/socket.io.min.js", "vendor_socketio", vendor_socketio)
    app.jinja_env.globals["socketio_client_version"] = client_version
