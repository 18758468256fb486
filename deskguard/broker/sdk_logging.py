"""Tame the SDK's logging: no JSON lines on stdout, no secrets in any record.

project-x-py gives each of its module loggers a ``StreamHandler(sys.stdout)`` with a JSON
formatter and ``propagate = False`` (``ProjectXLogger.get_logger``), at import time, so modules
imported later get one too. ``quiet_sdk_logging`` removes those handlers and lets the records
propagate up to the ``project_x_py`` (and ``pysignalr``) logger, whose one handler blanks the API
key and any ``access_token=`` / bearer token (pysignalr logs its negotiate URL at INFO, with the
session JWT in it), by the app's one rule set (:mod:`deskguard.redaction`), and hands the record to the
``deskguard.broker.sdk`` logger, so it reaches the application's handlers like any of ours. It is
idempotent: call it again after anything may have imported more SDK modules.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading

from ..redaction import RedactingFilter, redactor

__all__ = ["RedactingFilter", "quiet_sdk_logging", "redact", "register_secret"]

SDK_LOGGER_PREFIXES = ("project_x_py", "pysignalr")
# Libraries the SDK drives that log every request at INFO; quieted only if the app left them unset.
CHATTY_LIBRARIES = ("httpx", "httpcore", "websockets")

_lock = threading.Lock()

#: What replaces a secret in an SDK record (the bridge's historical mark; the rules are the app's).
SDK_MASK = "***"


def register_secret(secret: str | None) -> None:
    """Blank this string (an API key) in every log record and stored text from now on."""
    redactor.add_optional(secret)


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with the registered secrets, the given ones, tokens in URLs and bearer tokens
    replaced by ``***`` (the one rule set of :mod:`deskguard.redaction`)."""
    return redactor(text, *secrets, mask=SDK_MASK)


_FILTER = RedactingFilter(mask=SDK_MASK)
FORWARD_TO = "deskguard.broker.sdk"


class _ForwardHandler(logging.Handler):
    """Sits on the ``project_x_py`` and ``pysignalr`` loggers (which stop propagating): redacts
    each record, including those of child loggers created later, and hands it to our logger."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.addFilter(_FILTER)

    def emit(self, record: logging.LogRecord) -> None:
        target = logging.getLogger(FORWARD_TO)
        if target.isEnabledFor(record.levelno):
            target.handle(record)


_FORWARD = _ForwardHandler()


def quiet_sdk_logging(level: int = logging.WARNING) -> None:
    """Route every ``project_x_py.*`` and ``pysignalr.*`` record, redacted, into the
    ``deskguard.broker.sdk`` logger, at ``level`` and above; drop the SDK's stdout handlers."""
    with contextlib.suppress(ImportError):  # create pysignalr's loggers now, not at first connect
        import pysignalr.client  # noqa: F401
        import pysignalr.transport.websocket  # noqa: F401
    for name in CHATTY_LIBRARIES:
        library = logging.getLogger(name)
        if library.level == logging.NOTSET:
            library.setLevel(level)
    manager = logging.Logger.manager
    with _lock:
        names = [
            name
            for name in list(manager.loggerDict)
            if any(name == p or name.startswith(p + ".") for p in SDK_LOGGER_PREFIXES)
        ]
    for name in names:
        logger = manager.loggerDict.get(name)
        if not isinstance(logger, logging.Logger) or name in SDK_LOGGER_PREFIXES:
            continue
        for handler in list(logger.handlers):
            if _is_sdk_console_handler(handler):
                logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)  # inherit the prefix logger's level
        _install_filter(logger)
    for prefix in SDK_LOGGER_PREFIXES:
        root = logging.getLogger(prefix)
        for handler in list(root.handlers):
            if _is_sdk_console_handler(handler):
                root.removeHandler(handler)
        if _FORWARD not in root.handlers:
            root.addHandler(_FORWARD)
        root.setLevel(level)
        root.propagate = False
        _install_filter(root)


def _is_sdk_console_handler(handler: logging.Handler) -> bool:
    """The handlers ``ProjectXLogger.get_logger`` and ``configure_sdk_logging`` install: a plain
    ``StreamHandler`` on stdout/stderr, or anything with the SDK's JSON formatter."""
    if type(handler.formatter).__name__ == "StructuredFormatter":
        return True
    if type(handler) is logging.StreamHandler:
        stream = getattr(handler, "stream", None)
        return stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
    return False


def _install_filter(logger: logging.Logger) -> None:
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
