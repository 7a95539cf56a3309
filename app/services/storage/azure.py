"""Azure Blob Storage adapter (``azure-storage-blob``). One container
(``AZURE_STORAGE_CONTAINER``, made on the first upload if missing), blobs named by the app's
random keys; ``url`` is a read-only SAS URL for that one blob, valid for ``expires``, which also
sets the downloaded file's name and type. Tested against Azurite (tests/test_storage_azure.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import (
    BlobSasPermissions,
    BlobServiceClient,
    ContentSettings,
    LinearRetry,
    generate_blob_sas,
)

from app.services.storage import StorageUnavailable


class AzureBlobFileStore:
    def __init__(self, connection_string: str, container: str, *, timeout: int = 10):
        if not connection_string:
            raise StorageUnavailable("AZURE_STORAGE_CONNECTION_STRING is not set")
        try:
            # One retry after a second and short timeouts: an unreachable store answers the
            # upload within seconds instead of the SDK's default back-off (15 s, then 45 s, ...).
            self.service = BlobServiceClient.from_connection_string(
                connection_string, retry_policy=LinearRetry(backoff=1, random_jitter_range=0, retry_total=1),
                connection_timeout=timeout, read_timeout=timeout * 3)
        except ValueError as exc:
            raise StorageUnavailable(f"AZURE_STORAGE_CONNECTION_STRING: {exc}") from exc
        self.container = self.service.get_container_client(container)
        self.container_name = container

    def put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            try:
                self.container.upload_blob(key, data, overwrite=False,
                                           content_settings=ContentSettings(content_type=content_type))
            except ResourceNotFoundError:  # the container itself is missing: made once, then again
                try:
                    self.container.create_container()
                except ResourceExistsError:
                    pass
                self.container.upload_blob(key, data, overwrite=False,
                                           content_settings=ContentSettings(content_type=content_type))
        except ResourceExistsError:
            raise FileExistsError(key) from None
        except AzureError as exc:
            raise StorageUnavailable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc

    def get(self, key: str) -> bytes:
        try:
            return self.container.download_blob(key).readall()
        except ResourceNotFoundError:
            raise KeyError(key) from None
        except AzureError as exc:
            raise StorageUnavailable(type(exc).__name__) from exc

    def delete(self, key: str) -> None:
        try:
            self.container.delete_blob(key)
        except ResourceNotFoundError:
            pass
        except AzureError as exc:
            raise StorageUnavailable(type(exc).__name__) from exc

    def url(self, key: str, file_name: str, content_type: str, expires: timedelta) -> str | None:
        credential = self.service.credential
        account_key = getattr(credential, "account_key", None)
        if account_key is None:
            raise StorageUnavailable("the connection string has no account key to sign with")
        now = datetime.now(timezone.utc)
        sas = generate_blob_sas(
            account_name=self.service.account_name or "", container_name=self.container_name, blob_name=key,
            account_key=account_key, permission=BlobSasPermissions(read=True),
            start=now - timedelta(minutes=1), expiry=now + expires,
            content_disposition=f"attachment; filename*=UTF-8''{quote(file_name)}", content_type=content_type)
        return f"{self.container.get_blob_client(key).url}?{sas}"
