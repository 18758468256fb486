"""The Rules lab: replay a trader's own trade history through a rule set (issue 14, rules.md "Replay").

Pure: the same :class:`~deskguard.engine.engine.RiskEngine` with an injected clock, no I/O. The
command line (:mod:`deskguard.replay_cli`) and the Rules lab window fetch the trades and show the
result; this package only computes it.
"""

from __future__ import annotations

from .core import Bar, DayResult, Marker, ReplayCancelled, ReplayResult, replay, replay_steps
from .payload import PayloadError, bars_from_payload, trades_from_payload
from .report import comparison_text, report_text, write_csv

__all__ = [
    "Bar",
    "DayResult",
    "Marker",
    "PayloadError",
    "ReplayCancelled",
    "ReplayResult",
    "bars_from_payload",
    "comparison_text",
    "replay",
    "replay_steps",
    "report_text",
    "trades_from_payload",
    "write_csv",
]
