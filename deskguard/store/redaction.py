"""Keeps registered secrets (the API key, webhook URLs) out of every text written to state.db.

The rules are the process's one set, in :mod:`deskguard.redaction`; the store keeps its own
instance so a database opened for a test or a tool redacts exactly the secrets it was given.
"""

from __future__ import annotations

from ..redaction import REDACTED, Redactor

__all__ = ["REDACTED", "Redactor"]
