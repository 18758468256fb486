"""The rule book: one module per rule, named by its config key (see shared docs/rules.md)."""

from __future__ import annotations

from typing import Any

from .auth_loss_guard import AuthLossGuard
from .base import Context, Figure, Rule, Trigger
from .consistency import Consistency
from .cooldown_after_loss import CooldownAfterLoss
from .daily_realized_loss import DailyRealizedLoss
from .daily_realized_profit import DailyRealizedProfit
from .daily_unrealized_loss import DailyUnrealizedLoss
from .losing_streak import LosingStreak
from .max_contracts import MaxContracts
from .max_contracts_per_instrument import MaxContractsPerInstrument
from .max_unrealized_profit import MaxUnrealizedProfit
from .no_stop_loss_grace import NoStopLossGrace
from .safety_net import SafetyNet
from .session_block import SessionBlock
from .symbol_blocks import SymbolBlocks
from .trade_frequency import TradeFrequency
from .trade_management import TradeManagement
from .trailing_drawdown import TrailingDrawdown
from .weekly_realized_loss import WeeklyRealizedLoss

#: Every rule, in rule-book order.
ALL_RULES: tuple[type[Rule[Any]], ...] = (
    MaxContracts,
    MaxContractsPerInstrument,
    DailyRealizedLoss,
    DailyUnrealizedLoss,
    MaxUnrealizedProfit,
    TradeFrequency,
    CooldownAfterLoss,
    NoStopLossGrace,
    SessionBlock,
    AuthLossGuard,
    SymbolBlocks,
    TradeManagement,
    DailyRealizedProfit,
    TrailingDrawdown,
    WeeklyRealizedLoss,
    LosingStreak,
    Consistency,
    SafetyNet,
)

RULES_BY_KEY: dict[str, type[Rule[Any]]] = {r.key: r for r in ALL_RULES}

__all__ = ["ALL_RULES", "RULES_BY_KEY", "Context", "Figure", "Rule", "Trigger"]
