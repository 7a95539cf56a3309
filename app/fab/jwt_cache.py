"""Verified access tokens remembered per process, so a token is parsed and its signature checked
once, not on every request.

flask-jwt-extended (4.7) parses every token three times per request: claims without the
signature (for its key-loader callback), the header, then the verified decode. For a REST read
that is a fifth of the request's time. A token string that verified once maps to the same claims
for as long as it has not expired: a forged or altered token is a different string, so it misses
the cache and is checked in full. Expiry and not-before are checked again on every use. Tokens
read together with a CSRF value (cookies) always take the full path. Revocation is not a property
of the token and is checked after decoding, as before."""
from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from flask_jwt_extended import JWTManager

MAX_TOKENS = 4096


class VerifiedTokens:
    def __init__(self, size: int = MAX_TOKENS) -> None:
        self.size = size
        self._claims: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def get(self, token: str, now: float) -> dict[str, Any] | None:
        claims = self._claims.get(token)
        if claims is None:
            return None
        if claims.get("exp", now + 1) <= now or claims.get("nbf", now) > now:
            self._claims.pop(token, None)
            return None
        return dict(claims)  # callers may add keys; the cached claims stay as verified

    def put(self, token: str, claims: dict[str, Any]) -> None:
        self._claims[token] = dict(claims)
        if len(self._claims) > self.size:
            self._claims.popitem(last=False)


def install(manager: JWTManager, size: int = MAX_TOKENS) -> VerifiedTokens:
    """Wrap ``manager``'s decode with the cache; returns the cache (tests look inside)."""
    verified = VerifiedTokens(size)
    decode = manager._decode_jwt_from_config

    def cached_decode(encoded_token: str, csrf_value: Any = None, allow_expired: bool = False) -> dict:
        if csrf_value is not None or allow_expired:
            return decode(encoded_token, csrf_value, allow_expired)
        claims = verified.get(encoded_token, time.time())
        if claims is None:
            claims = decode(encoded_token, csrf_value, allow_expired)  # raises for anything not valid now
            verified.put(encoded_token, claims)
        return claims

    manager._decode_jwt_from_config = cached_decode  # type: ignore[method-assign]
    return verified
