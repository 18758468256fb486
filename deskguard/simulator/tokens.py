"""JWT-shaped session tokens (HS256) with an ``exp`` claim the SDK decodes to schedule refreshes.

The SDK re-authenticates whenever a token is within five minutes of its expiry, so a lifetime
under five minutes makes it log in again before every REST call.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

DEFAULT_TOKEN_LIFETIME_S = 24 * 3600.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    expires_at: float
    generation: int


class TokenIssuer:
    def __init__(self, lifetime_s: float = DEFAULT_TOKEN_LIFETIME_S) -> None:
        self.lifetime_s = lifetime_s
        self._secret = secrets.token_bytes(32)
        # Tokens carry the generation they were issued in; ``revoke_all`` bumps it.
        self._generation = 0

    def issue(self, subject: str) -> str:
        now = time.time()
        header = {"alg": "HS256", "typ": "JWT"}
        payload: dict[str, Any] = {
            "sub": subject,
            "name": subject,
            "iat": int(now),
            # Sub-second precision matters when tests shorten lifetimes to a second or two.
            "exp": round(now + self.lifetime_s, 3),
            "jti": uuid.uuid4().hex,
            "gen": self._generation,
        }
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
        signature = hmac.new(self._secret, signing_input.encode("ascii"), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"

    def validate(self, token: str | None) -> TokenClaims | None:
        """The token's claims if it was issued here, is unexpired and not revoked; else None."""
        claims = self.claims(token)
        if claims is None or claims.expires_at <= time.time() or claims.generation < self._generation:
            return None
        return claims

    def claims(self, token: str | None) -> TokenClaims | None:
        """The claims of a token issued here (signature checked), expired or revoked alike: whose
        request it is, for the request budget, even when the answer will be 401."""
        if not token:
            return None
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            signing_input = f"{parts[0]}.{parts[1]}"
            expected = hmac.new(self._secret, signing_input.encode("ascii"), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(parts[2])):
                return None
            payload = json.loads(_unb64(parts[1]))
            return TokenClaims(str(payload["sub"]), float(payload["exp"]), int(payload["gen"]))
        except (ValueError, KeyError, TypeError):
            return None

    def revoke_all(self) -> None:
        """Invalidate every token issued so far (new logins get fresh, valid tokens)."""
        self._generation += 1
