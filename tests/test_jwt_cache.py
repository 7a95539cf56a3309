"""The per-process cache of verified access tokens never lets an altered, forged or expired token
through: only the exact string that verified is remembered, and expiry is checked on every use."""
from __future__ import annotations

import base64
import json

import jwt

from app.fab.jwt_cache import VerifiedTokens

URL = "/api/v1/patient/"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _parts(headers: dict) -> list[str]:
    return headers["Authorization"].removeprefix("Bearer ").split(".")


def test_a_cached_token_does_not_vouch_for_an_altered_copy(client, api_token):
    headers = api_token("receptionist")
    assert client.get(URL, headers=headers).status_code == 200  # verified, now cached
    head, payload, signature = _parts(headers)
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    altered_claims = _b64({**claims, "sub": "1"})  # someone else, same signature
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    unsigned = jwt.encode({**claims}, key=None, algorithm="none")
    other_key = jwt.encode({**claims}, "another-clinic's-key-that-is-long-enough", algorithm="HS256")
    for token in (f"{head}.{altered_claims}.{signature}", f"{head}.{payload}.{flipped}", unsigned, other_key):
        response = client.get(URL, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
    assert client.get(URL, headers=headers).status_code == 200  # the genuine token still works


def test_a_remembered_token_is_forgotten_when_it_expires():
    cache = VerifiedTokens(size=2)
    cache.put("t", {"sub": "5", "exp": 1_000, "nbf": 0})
    assert cache.get("t", now=999) == {"sub": "5", "exp": 1_000, "nbf": 0}
    assert cache.get("t", now=1_000) is None
    assert cache.get("t", now=999) is None  # dropped, not merely hidden


def test_the_cache_is_bounded_and_hands_out_copies():
    cache = VerifiedTokens(size=2)
    for name in ("a", "b", "c"):
        cache.put(name, {"sub": name, "exp": 10})
    assert cache.get("a", now=1) is None and cache.get("c", now=1) == {"sub": "c", "exp": 10}
    cache.get("c", now=1)["sub"] = "changed"
    assert cache.get("c", now=1) == {"sub": "c", "exp": 10}
