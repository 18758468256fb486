"""Credentials in the OS keyring, behind a small interface.

The API key lives in the keyring (service ``deskguard``, user = the ProjectX username) or, for one
session only, in memory. There is no plain-text fallback, ever: with no keyring backend, saving
fails with a message that says so. Every secret that passes through here is registered with the
process-wide redactor (:mod:`deskguard.redaction`), so logs and the audit log can never show it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .redaction import REDACTED, RedactingFilter, redactor

__all__ = ["REDACTED", "SERVICE", "Credentials", "CredentialStore", "KeyringUnavailable", "RedactingFilter",
           "credentials_from_env", "redactor"]

SERVICE = "deskguard"


class KeyringUnavailable(Exception):
    """No usable OS keyring (e.g. no desktop session): the key can only be kept for this session."""


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    api_key: str
    account_name: str | None = None

    def __repr__(self) -> str:  # never print the key, even by accident
        return f"Credentials(username={self.username!r}, api_key={REDACTED!r}, account_name={self.account_name!r})"

    __str__ = __repr__


class CredentialStore:
    """The API key in the OS keyring, or in memory for this session only."""

    def __init__(self, service: str = SERVICE) -> None:
        self.service = service
        self._session: dict[str, str] = {}

    def available(self) -> bool:
        try:
            import keyring
            from keyring.backends import fail

            return not isinstance(keyring.get_keyring(), fail.Keyring)
        except Exception:
            return False

    def save(self, username: str, api_key: str) -> None:
        """Store the key in the OS keyring. Raises KeyringUnavailable when there is none."""
        redactor.add(api_key)
        import keyring
        from keyring.errors import KeyringError

        try:
            keyring.set_password(self.service, username, api_key)
        except KeyringError as exc:
            raise KeyringUnavailable(
                "No OS keyring is available to store the API key safely "
                f"({type(exc).__name__}). Keep it for this session only, or set up a keyring."
            ) from None

    def keep_for_session(self, username: str, api_key: str) -> None:
        redactor.add(api_key)
        self._session[username] = api_key

    def load(self, username: str) -> str | None:
        if username in self._session:
            return self._session[username]
        try:
            import keyring

            key = keyring.get_password(self.service, username)
        except Exception:
            return None
        redactor.add_optional(key)
        return key

    def delete(self, username: str) -> None:
        self._session.pop(username, None)
        try:
            import keyring

            keyring.delete_password(self.service, username)
        except Exception:
            pass


def credentials_from_env(env: dict[str, str] | None = None) -> Credentials | None:
    """The SDK's own variables: PROJECT_X_USERNAME, PROJECT_X_API_KEY, PROJECT_X_ACCOUNT_NAME."""
    env = dict(os.environ) if env is None else env
    user, key = env.get("PROJECT_X_USERNAME"), env.get("PROJECT_X_API_KEY")
    if not user or not key:
        return None
    redactor.add(key)
    return Credentials(user, key, env.get("PROJECT_X_ACCOUNT_NAME") or None)
