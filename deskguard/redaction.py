"""The one redaction of secrets, used by the logs, the state database and the SDK's log bridge.

One rule set, wherever text leaves the process:

* every registered secret (the API key, a webhook URL that holds a token) is replaced whole, the
  longest first, so a secret that contains another is never half shown;
* a secret must say something: registering an empty or blank one is a caller's mistake
  (``ValueError``); ``None`` (no key loaded) is not registered by :meth:`Redactor.add_optional`;
* tokens the process never saw registered are blanked by their shape: ``access_token=…`` in a
  URL (pysignalr logs its negotiate URL with the session JWT) and ``Bearer …``.

What replaces a secret is :data:`REDACTED`; the SDK log bridge keeps its historical ``***``
(``Redactor.__call__``'s ``mask``). This module imports nothing of deskguard, so the store and the
broker may use it (pyproject's import contracts).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit

REDACTED = "[redacted]"
MIN_PATH_SECRET = 8  # characters of a webhook URL's path (and query) that make it a secret of its own

_TOKEN_IN_URL = re.compile(r"(access_token=)[^&\s'\"`]+")
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._\-]+")


class Redactor:
    """Replaces every registered secret, and tokens by their shape, in text. Thread-safe: the
    secrets are replaced whole (a new tuple), never changed in place, so the store's thread may
    redact while the app adds a secret on another."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Never show ``secret`` again. Raises ValueError for an empty or blank one."""
        if not isinstance(secret, str) or not secret.strip():
            raise ValueError("a secret to redact must not be empty")
        with self._lock:
            if secret not in self._secrets:
                # Longest first, so a secret that contains another is replaced whole.
                self._secrets = tuple(sorted((*self._secrets, secret), key=len, reverse=True))

    def add_optional(self, secret: str | None) -> None:
        """:meth:`add` for a value that may be missing (a key not in the keyring): None or an
        empty string registers nothing."""
        if secret:
            self.add(secret)

    def secrets(self) -> list[str]:
        return list(self._secrets)

    def __call__(self, text: str, *extra: str | None, mask: str = REDACTED) -> str:
        """``text`` with the registered secrets, the ``extra`` ones and tokens replaced by ``mask``."""
        if not text:
            return text
        for secret in (*(s for s in extra if s and s.strip()), *self._secrets):
            if secret in text:
                text = text.replace(secret, mask)
        if "access_token=" in text:
            text = _TOKEN_IN_URL.sub(lambda m: m.group(1) + mask, text)
        if "Bearer" in text:
            text = _BEARER.sub(lambda m: m.group(1) + mask, text)
        return text

    def __bool__(self) -> bool:
        return bool(self._secrets)


#: The process-wide redactor: the API key is registered here as soon as the app has it, and every
#: webhook URL when the config is read. The logs' filter and the SDK log bridge use it.
redactor = Redactor()


def url_secrets(url: str) -> list[str]:
    """What of a webhook URL must never be shown: the URL itself (as written and as an HTTP
    library prints it), and its path with the query, where services keep the token (Discord's
    ``/api/webhooks/<id>/<token>``, Telegram's ``/bot<token>/…``, an ntfy topic), and a password."""
    text = url.strip()
    if not text:
        return []
    out = [text]
    parts = urlsplit(text)
    if parts.hostname:
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        # A token is long; a short path ("/api", "/hook") is not one, and blanking it everywhere
        # would garble the logs (the gateway's own URLs end in /api).
        if len(tail.strip("/")) >= MIN_PATH_SECRET:
            out.append(tail)
        if parts.password:
            out.append(parts.password)
        if parts.scheme and parts.netloc:
            out.append(f"{parts.netloc}{tail}")  # the URL without its scheme
    return out


class RedactingFilter(logging.Filter):
    """A logging filter that formats the record and removes every secret from it (message and
    traceback). ``mask`` is what replaces a secret."""

    def __init__(self, source: Redactor | None = None, mask: str = REDACTED) -> None:
        super().__init__()
        self._redact = source or redactor
        self.mask = mask

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record alone
            return True
        clean = self._redact(message, mask=self.mask)
        if record.exc_info and record.exc_info[1] is not None:
            # Format the traceback now, redacted, so a handler never prints the raw one.
            record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info), mask=self.mask)
            record.exc_info = None
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True
