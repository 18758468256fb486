"""The account's figures in state.db: trades seen, daily and weekly figures, the trailing
high-water mark and end-of-day balances."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from ..engine.models import Side, Trade
from .connection import Database, where_clause
from .records import DayFigures
from .timestamps import date_text, moment_from_text, moment_text, optional_moment_text

_TRADE_COLUMNS = "id, account_id, contract_id, time, price, pnl, fees, side, size, voided, order_id"


class Figures(Database):
    """Trades, days, the high-water mark and end-of-day balances."""

    # ---- trades seen ------------------------------------------------------------------------

    def record_trades(self, account_id: int, trades: Iterable[Trade]) -> int:
        """Remember trades by id; returns how many were new. Recording a trade again is harmless,
        and a later report of the same id (a void, corrected fees) replaces the earlier one:
        the broker's word wins."""
        new = 0
        with self._transaction() as run:
            for trade in trades:
                if trade.account_id != account_id:
                    raise ValueError(f"trade {trade.id} belongs to account {trade.account_id}, not {account_id}")
                values = (
                    trade.contract_id, moment_text(trade.time), trade.price, trade.pnl, trade.fees,
                    int(trade.side), trade.size, int(trade.voided), trade.order_id,
                )
                cursor = run(
                    "INSERT OR IGNORE INTO trades (contract_id, time, price, pnl, fees, side, size, voided,"
                    " order_id, account_id, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*values, account_id, trade.id),
                )
                if cursor.rowcount:
                    new += 1
                else:
                    run(
                        "UPDATE trades SET contract_id = ?, time = ?, price = ?, pnl = ?, fees = ?, side = ?,"
                        " size = ?, voided = ?, order_id = ? WHERE account_id = ? AND id = ?",
                        (*values, account_id, trade.id),
                    )
        return new

    def seen_trade_ids(self, account_id: int, since: datetime) -> set[int]:
        rows = self._fetch(
            "SELECT id FROM trades WHERE account_id = ? AND time >= ?", (account_id, moment_text(since))
        )
        return {row[0] for row in rows}

    def trades(self, account_id: int, since: datetime, until: datetime | None = None) -> list[Trade]:
        """Trades recorded from ``since`` (inclusive) to ``until`` (exclusive), in time order."""
        where, params = where_clause(
            ("account_id = ?", account_id),
            ("time >= ?", moment_text(since)),
            ("time < ?", optional_moment_text(until)),
        )
        rows = self._fetch(f"SELECT {_TRADE_COLUMNS} FROM trades{where} ORDER BY time, id", params)
        return [
            Trade(
                id=row[0], account_id=row[1], contract_id=row[2], time=moment_from_text(row[3]),
                price=row[4], pnl=row[5], fees=row[6], side=Side(row[7]), size=row[8],
                voided=bool(row[9]), order_id=row[10],
            )
            for row in rows
        ]

    # ---- daily and weekly figures -----------------------------------------------------------

    def record_day(
        self,
        account_id: int,
        trading_date: date,
        realized: float,
        trades: int,
        *,
        fees: float = 0.0,
        balance: float | None = None,
        at: datetime | None = None,
    ) -> None:
        """Set a trading day's figures (replacing earlier ones for that day). A balance of None
        keeps the one recorded before."""
        with self._transaction() as run:
            run(
                "INSERT INTO days (account_id, trading_date, realized, trades, fees, balance, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (account_id, trading_date) DO UPDATE SET realized = excluded.realized,"
                " trades = excluded.trades, fees = excluded.fees,"
                " balance = coalesce(excluded.balance, days.balance), updated_at = excluded.updated_at",
                (
                    account_id, date_text(trading_date), float(realized), int(trades), float(fees),
                    balance, moment_text(at or self._clock.now()),
                ),
            )

    def realized_between(self, account_id: int, start_date: date, end_date: date) -> float:
        """Realized P&L of the trading days from ``start_date`` to ``end_date``, BOTH inclusive.

        For the weekly rule's "previous days of this week": ``(week_start, today - 1 day)``."""
        row = self._fetch(
            "SELECT coalesce(sum(realized), 0.0) FROM days"
            " WHERE account_id = ? AND trading_date >= ? AND trading_date <= ?",
            (account_id, date_text(start_date), date_text(end_date)),
        )
        return float(row[0][0])

    def days(self, account_id: int, since: date, until: date | None = None) -> list[DayFigures]:
        """Trading days from ``since`` to ``until`` (both inclusive), oldest first."""
        where, params = where_clause(
            ("account_id = ?", account_id),
            ("trading_date >= ?", date_text(since)),
            ("trading_date <= ?", None if until is None else date_text(until)),
        )
        rows = self._fetch(
            f"SELECT account_id, trading_date, realized, trades, fees, balance, updated_at FROM days{where}"
            " ORDER BY trading_date",
            params,
        )
        return [
            DayFigures(
                account_id=row[0], trading_date=date.fromisoformat(row[1]), realized=row[2], trades=row[3],
                fees=row[4], balance=row[5], updated_at=moment_from_text(row[6]),
            )
            for row in rows
        ]

    # ---- trailing high-water mark -----------------------------------------------------------

    def get_high_water_mark(self, account_id: int) -> float | None:
        rows = self._fetch("SELECT value FROM high_water_marks WHERE account_id = ?", (account_id,))
        return float(rows[0][0]) if rows else None

    def set_high_water_mark(self, account_id: int, value: float, at: datetime | None = None) -> None:
        """Store the mark as given: the rule decides whether it may fall (a re-seed by the user)."""
        with self._transaction() as run:
            run(
                "INSERT INTO high_water_marks (account_id, value, at) VALUES (?, ?, ?)"
                " ON CONFLICT (account_id) DO UPDATE SET value = excluded.value, at = excluded.at",
                (account_id, float(value), moment_text(at or self._clock.now())),
            )

    # ---- end-of-day balances ----------------------------------------------------------------

    def record_end_of_day(self, account_id: int, trading_date: date, balance: float, at: datetime | None = None) -> None:
        """The balance at the reset that ended ``trading_date`` (a later record of the same day wins)."""
        with self._transaction() as run:
            run(
                "INSERT INTO end_of_day (account_id, trading_date, balance, recorded_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (account_id, trading_date) DO UPDATE SET balance = excluded.balance,"
                " recorded_at = excluded.recorded_at",
                (account_id, date_text(trading_date), float(balance), moment_text(at or self._clock.now())),
            )

    def end_of_day_balances(self, account_id: int) -> list[tuple[date, float]]:
        """Every end-of-day balance recorded for the account, oldest first."""
        rows = self._fetch("SELECT trading_date, balance FROM end_of_day WHERE account_id = ? ORDER BY trading_date",
                           (account_id,))
        return [(date.fromisoformat(d), float(b)) for d, b in rows]

    def highest_end_of_day(self, account_id: int) -> float | None:
        rows = self._fetch("SELECT max(balance) FROM end_of_day WHERE account_id = ?", (account_id,))
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

