"""Where uploaded files live: one interface, adapters chosen by configuration (issue 9, item 8).

``STORAGE_BACKEND`` picks the adapter: ``local`` (the default: a folder, ``UPLOAD_DIR``),
``azure`` (Azure Blob Storage: ``AZURE_STORAGE_CONNECTION_STRING``, ``AZURE_STORAGE_CONTAINER``)
or ``cloudinary`` (``CLOUDINARY_URL``). The cloud SDKs are imported only by their adapter.

Keys are random and chosen by the app, never the user's file name. ``url`` gives a short-lived
signed address for cloud adapters and None for local disk (the app serves the bytes itself,
after the access check). A store that cannot be reached raises ``StorageUnavailable`` from
every method, whatever the SDK's own exception: the upload then fails with a message and
nothing is written.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Protocol

from werkzeug.security import safe_join

BACKENDS = ("local", "azure", "cloudinary")


class StorageUnavailable(RuntimeError):
    """The store cannot be reached: the upload fails with a message and nothing is written."""


class FileStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def url(self, key: str, file_name: str, content_type: str, expires: timedelta) -> str | None: ...


class LocalFileStore:
    """Files under a folder on local disk (the embedded default)."""

    def __init__(self, root: str):
        self.root = root

    def _path(self, key: str) -> str:
        path = safe_join(self.root, key)
        if path is None:
            raise KeyError(key)
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "xb") as handle:  # a key is never written twice
                handle.write(data)
        except FileExistsError:
            raise
        except OSError as exc:  # disk full, folder not writable, network share gone
            raise StorageUnavailable(str(exc)) from exc

    def get(self, key: str) -> bytes:
        with open(self._path(key), "rb") as handle:
            return handle.read()

    def delete(self, key: str) -> None:
        try:
            os.remove(self._path(key))
        except FileNotFoundError:
            pass

    def url(self, key: str, file_name: str, content_type: str, expires: timedelta) -> str | None:
        return None


def file_store(config: Mapping[str, Any]) -> FileStore:
    """The configured store (``STORAGE_BACKEND``; local disk under ``UPLOAD_DIR`` by default)."""
    backend = (config.get("STORAGE_BACKEND") or "local").strip().lower()
    if backend == "azure":
        from app.services.storage.azure import AzureBlobFileStore

        return AzureBlobFileStore(config.get("AZURE_STORAGE_CONNECTION_STRING") or "",
                                  config.get("AZURE_STORAGE_CONTAINER") or "clinic-files")
    if backend == "cloudinary":
        from app.services.storage.cloudinary import CloudinaryFileStore

        return CloudinaryFileStore(config.get("CLOUDINARY_URL") or "",
                                   upload_prefix=config.get("CLOUDINARY_UPLOAD_PREFIX") or None)
    if backend != "local":
        raise ValueError(f"STORAGE_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}")
    return LocalFileStore(config["UPLOAD_DIR"])
