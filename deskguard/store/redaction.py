"""Keeps registered secrets (the API key) out of every text written to state.db."""

from __future__ import annotations

REDACTED = "[redacted]"


class Redactor:
    def __init__(self) -> None:
        # Replaced whole, never changed in place: the app may add a secret on one thread while the
        # store's thread is redacting.
        self._secrets: tuple[str, ...] = ()

    def add(self, secret: str) -> None:
        if not secret or secret.isspace():
            raise ValueError("a secret to redact must not be empty")
        if secret not in self._secrets:
            # Longest first, so a secret that contains another is replaced whole.
            self._secrets = tuple(sorted((*self._secrets, secret), key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def __bool__(self) -> bool:
        return bool(self._secrets)
