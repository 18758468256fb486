"""Firm profiles: the rules a prop firm judges an account by, as data (rules.md, "firm profiles").

A profile is rows, never code: each row sets one parameter of one rule, and names the firm page the
figure comes from and when it was read. Adding a firm or a size is adding rows. A user overrides any
figure through the rule it drives (``[accounts."NAME".rules.*]``); how a profile's rows combine with
the user's own rules is :mod:`deskguard.engine.effective`.

The figures below were read on 2026-12-05 from the project's rule book (``rules.md``), which took
them from Topstep's help center; they were not re-read from the firm's own pages. Firms change their
figures: check them against the firm's dashboard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .rules.max_contracts import Tier
from .rules.session_block import Window

#: A row's value that means "the account's starting balance" (014's ``stop_trailing_at``).
STARTING_BALANCE = "starting_balance"

#: Where every figure below was read. The firm pages are named, not linked: the addresses were
#: not checked when the rows were written.
_READ = "read 2026-12-05 from rules.md (Topstep help center figures)"
_MLL = f"Topstep help center, 'Maximum Loss Limit'; {_READ}"
_SIZE = f"Topstep help center, 'Trading Combine parameters: maximum position size'; {_READ}"
_MICRO = f"Topstep help center, 'Micro contracts count as 1/10 of a mini'; {_READ}"
_SCALING = f"Topstep help center, 'Express Funded Account Scaling Plan'; {_READ}"
_SCALING_CHECK = f"{_SCALING} (the 100K/150K tiers are to be checked against the firm's chart)"
_HOURS = f"Topstep help center, 'Trading hours: positions closed by 3:10 PM CT'; {_READ}"
_CONSISTENCY = f"Topstep help center, 'Consistency target (Trading Combine)'; {_READ}"
_BALANCE = f"Topstep help center, 'Trading Combine account sizes'; {_READ}"

_TOPSTEP_SESSION = (Window(days="Sun-Thu", start=Window().start, end=Window().end, timezone="America/Chicago"),)


@dataclass(frozen=True, slots=True)
class Row:
    """One figure of one profile: ``rule`` "" is the account itself (``starting_balance``)."""

    profile: str
    rule: str
    param: str
    value: Any
    source: str


def _t(*tiers: tuple[float, int]) -> tuple[Tier, ...]:
    return tuple(Tier(profit=float(p), limit=n) for p, n in tiers)


#: Every profile's figures, one row each. A profile switches on each rule it has an ``enabled`` row for.
ROWS: tuple[Row, ...] = (
    # --- Topstep Trading Combine (TopstepX, accounts opened since Aug 2024: no daily loss limit) ---
    Row("topstep_combine_50k", "", "starting_balance", 50_000.0, _BALANCE),
    Row("topstep_combine_50k", "trailing_drawdown", "enabled", True, _MLL),
    Row("topstep_combine_50k", "trailing_drawdown", "max_drawdown", 2_000.0, _MLL),
    Row("topstep_combine_50k", "trailing_drawdown", "mode", "end_of_day", _MLL),
    Row("topstep_combine_50k", "trailing_drawdown", "stop_trailing_at", STARTING_BALANCE, _MLL),
    Row("topstep_combine_50k", "max_contracts", "enabled", True, _SIZE),
    Row("topstep_combine_50k", "max_contracts", "limit", 5, _SIZE),
    Row("topstep_combine_50k", "max_contracts", "micro_weight", 0.1, _MICRO),
    Row("topstep_combine_50k", "session_block", "enabled", True, _HOURS),
    Row("topstep_combine_50k", "session_block", "windows", _TOPSTEP_SESSION, _HOURS),
    Row("topstep_combine_50k", "session_block", "flatten_at_end", True, _HOURS),
    Row("topstep_combine_50k", "consistency", "enabled", True, _CONSISTENCY),
    Row("topstep_combine_50k", "consistency", "max_share", 0.5, _CONSISTENCY),
    Row("topstep_combine_50k", "consistency", "action", "stop", _CONSISTENCY),

    Row("topstep_combine_100k", "", "starting_balance", 100_000.0, _BALANCE),
    Row("topstep_combine_100k", "trailing_drawdown", "enabled", True, _MLL),
    Row("topstep_combine_100k", "trailing_drawdown", "max_drawdown", 3_000.0, _MLL),
    Row("topstep_combine_100k", "trailing_drawdown", "mode", "end_of_day", _MLL),
    Row("topstep_combine_100k", "trailing_drawdown", "stop_trailing_at", STARTING_BALANCE, _MLL),
    Row("topstep_combine_100k", "max_contracts", "enabled", True, _SIZE),
    Row("topstep_combine_100k", "max_contracts", "limit", 10, _SIZE),
    Row("topstep_combine_100k", "max_contracts", "micro_weight", 0.1, _MICRO),
    Row("topstep_combine_100k", "session_block", "enabled", True, _HOURS),
    Row("topstep_combine_100k", "session_block", "windows", _TOPSTEP_SESSION, _HOURS),
    Row("topstep_combine_100k", "session_block", "flatten_at_end", True, _HOURS),
    Row("topstep_combine_100k", "consistency", "enabled", True, _CONSISTENCY),
    Row("topstep_combine_100k", "consistency", "max_share", 0.5, _CONSISTENCY),
    Row("topstep_combine_100k", "consistency", "action", "stop", _CONSISTENCY),

    Row("topstep_combine_150k", "", "starting_balance", 150_000.0, _BALANCE),
    Row("topstep_combine_150k", "trailing_drawdown", "enabled", True, _MLL),
    Row("topstep_combine_150k", "trailing_drawdown", "max_drawdown", 4_500.0, _MLL),
    Row("topstep_combine_150k", "trailing_drawdown", "mode", "end_of_day", _MLL),
    Row("topstep_combine_150k", "trailing_drawdown", "stop_trailing_at", STARTING_BALANCE, _MLL),
    Row("topstep_combine_150k", "max_contracts", "enabled", True, _SIZE),
    Row("topstep_combine_150k", "max_contracts", "limit", 15, _SIZE),
    Row("topstep_combine_150k", "max_contracts", "micro_weight", 0.1, _MICRO),
    Row("topstep_combine_150k", "session_block", "enabled", True, _HOURS),
    Row("topstep_combine_150k", "session_block", "windows", _TOPSTEP_SESSION, _HOURS),
    Row("topstep_combine_150k", "session_block", "flatten_at_end", True, _HOURS),
    Row("topstep_combine_150k", "consistency", "enabled", True, _CONSISTENCY),
    Row("topstep_combine_150k", "consistency", "max_share", 0.5, _CONSISTENCY),
    Row("topstep_combine_150k", "consistency", "action", "stop", _CONSISTENCY),

    # --- Topstep Express Funded Account: starting balance = the balance when funded (the user's) ---
    Row("topstep_xfa_50k", "trailing_drawdown", "enabled", True, _MLL),
    Row("topstep_xfa_50k", "trailing_drawdown", "max_drawdown", 2_000.0, _MLL),
    Row("topstep_xfa_50k", "trailing_drawdown", "mode", "end_of_day", _MLL),
    Row("topstep_xfa_50k", "trailing_drawdown", "stop_trailing_at", STARTING_BALANCE, _MLL),
    Row("topstep_xfa_50k", "max_contracts", "enabled", True, _SCALING),
    Row("topstep_xfa_50k", "max_contracts", "micro_weight", 0.1, _MICRO),
    Row("topstep_xfa_50k", "max_contracts", "scaling", _t((0, 2), (1_500, 3), (2_000, 5)), _SCALING),
    Row("topstep_xfa_50k", "session_block", "enabled", True, _HOURS),
    Row("topstep_xfa_50k", "session_block", "windows", _TOPSTEP_SESSION, _HOURS),
    Row("topstep_xfa_50k", "session_block", "flatten_at_end", True, _HOURS),

    Row("topstep_xfa_100k", "trailing_drawdown", "enabled", True, _MLL),
    Row("topstep_xfa_100k", "trailing_drawdown", "max_drawdown", 3_000.0, _MLL),
    Row("topstep_xfa_100k", "trailing_drawdown", "mode", "end_of_day", _MLL),
    Row("topstep_xfa_100k", "trailing_drawdown", "stop_trailing_at", STARTING_BALANCE, _MLL),
    Row("topstep_xfa_100k", "max_contracts", "enabled", True, _SCALING_CHECK),
    Row("topstep_xfa_100k", "max_contracts", "micro_weight", 0.1, _MICRO),
    Row("topstep_xfa_100k", "max_contracts", "scaling",
        _t((0, 3), (1_500, 4), (2_000, 5), (3_000, 10)), _SCALING_CHECK),
    Row("topstep_xfa_100k", "session_block", "enabled", True, _HOURS),
    Row("topstep_xfa_100k", "session_block", "windows", _TOPSTEP_SESSION, _HOURS),
    Row("topstep_xfa_100k", "session_block", "flatten_at_end", True, _HOURS),

    Row("topstep_xfa_150k", "trailing_drawdown", "enabled", True, _MLL),
    Row("topstep_xfa_150k", "trailing_drawdown", "max_drawdown", 4_500.0, _MLL),
    Row("topstep_xfa_150k", "trailing_drawdown", "mode", "end_of_day", _MLL),
    Row("topstep_xfa_150k", "trailing_drawdown", "stop_trailing_at", STARTING_BALANCE, _MLL),
    Row("topstep_xfa_150k", "max_contracts", "enabled", True, _SCALING_CHECK),
    Row("topstep_xfa_150k", "max_contracts", "micro_weight", 0.1, _MICRO),
    Row("topstep_xfa_150k", "max_contracts", "scaling",
        _t((0, 3), (1_500, 4), (2_000, 5), (3_000, 10), (4_500, 15)), _SCALING_CHECK),
    Row("topstep_xfa_150k", "session_block", "enabled", True, _HOURS),
    Row("topstep_xfa_150k", "session_block", "windows", _TOPSTEP_SESSION, _HOURS),
    Row("topstep_xfa_150k", "session_block", "flatten_at_end", True, _HOURS),
)

#: Each profile's one-line description, for the sign-in proposal and Settings → Accounts.
TITLES: dict[str, str] = {
    "topstep_combine_50k": "Topstep Trading Combine 50K",
    "topstep_combine_100k": "Topstep Trading Combine 100K",
    "topstep_combine_150k": "Topstep Trading Combine 150K",
    "topstep_xfa_50k": "Topstep Express Funded Account 50K",
    "topstep_xfa_100k": "Topstep Express Funded Account 100K",
    "topstep_xfa_150k": "Topstep Express Funded Account 150K",
}


@dataclass(frozen=True, slots=True)
class Profile:
    key: str
    title: str
    rows: tuple[Row, ...]

    @property
    def starting_balance(self) -> float | None:
        """The profile's own starting balance (None: the account's balance when it was funded)."""
        return next((float(r.value) for r in self.rows if r.rule == "" and r.param == "starting_balance"), None)

    def row(self, rule: str, param: str) -> Row | None:
        return next((r for r in self.rows if r.rule == rule and r.param == param), None)

    def params_of(self, rule: str) -> dict[str, Any]:
        """The parameters this profile sets for one rule (``enabled`` included)."""
        return {r.param: r.value for r in self.rows if r.rule == rule}

    @property
    def rules_on(self) -> tuple[str, ...]:
        """The rules the profile switches on, in row order."""
        return tuple(dict.fromkeys(r.rule for r in self.rows if r.param == "enabled" and r.value is True))


def _profiles() -> dict[str, Profile]:
    keys = list(dict.fromkeys(r.profile for r in ROWS))
    return {k: Profile(k, TITLES.get(k, k), tuple(r for r in ROWS if r.profile == k)) for k in keys}


#: Every profile, by key.
PROFILES: dict[str, Profile] = _profiles()

_COMBINE = re.compile(r"^(50|100|150)KTC")


def _size_for(balance: float | None) -> str:
    if balance is None or balance < 75_000:
        return "50k"
    return "100k" if balance < 125_000 else "150k"


def propose_profile(name: str, balance: float | None) -> str:
    """The profile an account's name suggests (rules.md): ``50KTC…`` → ``topstep_combine_50k``
    (100K, 150K alike); a name containing ``XFA`` or ``EXPRESS`` → the XFA profile of the size its
    balance suggests; ``PRAC…`` and anything else → "" (none). The user confirms or changes it."""
    upper = name.strip().upper()
    if upper.startswith("PRAC"):
        return ""
    if "XFA" in upper or "EXPRESS" in upper:
        return f"topstep_xfa_{_size_for(balance)}"
    m = _COMBINE.match(upper)
    if m:
        return f"topstep_combine_{m.group(1)}k"
    return ""
