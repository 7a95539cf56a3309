"""What the tests that use the real Redis share: the database they use and the cleanup of a
test's own keys."""
from __future__ import annotations

from redis import Redis

REDIS_URL = "redis://127.0.0.1:6379/15"


def delete_keys(pattern: str, url: str = REDIS_URL) -> None:
    """Every key matching ``pattern`` (a test's own prefix) deleted."""
    connection = Redis.from_url(url)
    try:
        keys = list(connection.scan_iter(match=pattern))
        if keys:
            connection.delete(*keys)
    finally:
        connection.close()
