"""Cloudinary adapter (the ``cloudinary`` SDK, configured from ``CLOUDINARY_URL``:
``cloudinary://API_KEY:API_SECRET@CLOUD_NAME``).

Each file is sent as a *signed* upload (the SDK signs the parameters with the API secret) of
delivery type ``private`` under the app's random key: images as ``image`` resources, anything
else (PDFs) as ``raw``. Private assets have no public address: ``url`` answers a short-lived
signed download URL (``private_download_url`` with ``expires_at``) and ``get`` fetches the bytes
through the same signed URL for the app's own serving (thumbnails, local streaming).

The key's extension (chosen by the app from the sniffed type) says which resource type a key
is; an image's public id is the key without it. Configuration is passed on every call, never
into the SDK's process-wide ``cloudinary.config()``. ``CLOUDINARY_UPLOAD_PREFIX`` (tests only)
points the SDK at another API host. Tested against a local server that checks the SDK's
signatures (tests/test_storage_cloudinary.py)."""
from __future__ import annotations

import io
import time
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlparse

import urllib3
from cloudinary import uploader, utils
from cloudinary.exceptions import Error as CloudinaryError

from app.services.storage import StorageUnavailable

IMAGE_EXTENSIONS = {"png", "jpg", "jpeg", "webp", "gif"}
DELIVERY_TYPE = "private"


def parse_url(url: str) -> dict[str, str]:
    """``cloudinary://KEY:SECRET@CLOUD`` -> the SDK's call options."""
    parsed = urlparse(url or "")
    if parsed.scheme != "cloudinary" or not (parsed.username and parsed.password and parsed.hostname):
        raise StorageUnavailable("CLOUDINARY_URL must look like cloudinary://API_KEY:API_SECRET@CLOUD_NAME")
    return {"cloud_name": parsed.hostname, "api_key": unquote(parsed.username),
            "api_secret": unquote(parsed.password)}


def resource_of(key: str) -> tuple[str, str, str]:
    """(resource type, public id, format) of a key."""
    stem, dot, extension = key.rpartition(".")
    if dot and extension.lower() in IMAGE_EXTENSIONS:
        return "image", stem, extension.lower()
    return "raw", key, ""


class CloudinaryFileStore:
    def __init__(self, cloudinary_url: str, *, upload_prefix: str | None = None, timeout: int = 20):
        self.options: dict[str, Any] = parse_url(cloudinary_url)
        if upload_prefix:
            self.options["upload_prefix"] = upload_prefix.rstrip("/")
        self.timeout = timeout
        self.http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=timeout), retries=False)

    def _signed_download(self, key: str, expires: timedelta, attachment: bool) -> str:
        resource_type, public_id, extension = resource_of(key)
        return utils.private_download_url(
            public_id, extension, resource_type=resource_type, type=DELIVERY_TYPE,
            expires_at=int(time.time() + expires.total_seconds()), attachment=attachment or None, **self.options)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        resource_type, public_id, _extension = resource_of(key)
        try:
            result = uploader.upload(io.BytesIO(data), public_id=public_id, resource_type=resource_type,
                                     type=DELIVERY_TYPE, overwrite=False, unique_filename=False,
                                     use_filename=False, filename=key, timeout=self.timeout, **self.options)
        except CloudinaryError as exc:
            raise StorageUnavailable(str(exc)) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise StorageUnavailable(type(exc).__name__) from exc
        if result.get("existing"):  # Cloudinary kept an older asset under this id: never ours to reuse
            raise FileExistsError(key)

    def get(self, key: str) -> bytes:
        url = self._signed_download(key, timedelta(minutes=1), attachment=False)
        try:
            response = self.http.request("GET", url, redirect=True)
        except urllib3.exceptions.HTTPError as exc:
            raise StorageUnavailable(type(exc).__name__) from exc
        if response.status == 404:
            raise KeyError(key)
        if response.status != 200:
            raise StorageUnavailable(f"Cloudinary answered {response.status}")
        return response.data

    def delete(self, key: str) -> None:
        resource_type, public_id, _extension = resource_of(key)
        try:
            uploader.destroy(public_id, resource_type=resource_type, type=DELIVERY_TYPE, invalidate=True,
                             timeout=self.timeout, **self.options)
        except CloudinaryError as exc:
            raise StorageUnavailable(str(exc)) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise StorageUnavailable(type(exc).__name__) from exc

    def url(self, key: str, file_name: str, content_type: str, expires: timedelta) -> str | None:
        return self._signed_download(key, expires, attachment=True)
