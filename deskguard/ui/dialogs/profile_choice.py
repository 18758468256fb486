"""Picking an account's firm profile: one combo box of the engine's profiles ("" = none), used by
sign-in (with the profile proposed from the account's name and balance) and Settings → Accounts."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QWidget

from ...config import DeskGuardConfig, config_from_data
from ...engine.profiles import PROFILES

NONE_TEXT = "No firm profile (my own rules)"


class ProfileChoice(QComboBox):
    def __init__(self, profile: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.addItem(NONE_TEXT, "")
        for key, profile_ in PROFILES.items():
            self.addItem(f"{profile_.title} ({key})", key)
        self.set_profile(profile)

    def set_profile(self, profile: str) -> None:
        index = self.findData(profile)
        self.setCurrentIndex(index if index >= 0 else 0)

    def profile(self) -> str:
        return str(self.currentData() or "")


def with_profile(config: DeskGuardConfig, name: str, profile: str, starting_balance: Any = ...) -> DeskGuardConfig:
    """``config`` with one account's profile (and, when given, starting balance; None clears it) set,
    its own rule values kept. An account with no table and no profile gets no table."""
    found = config.account_table(name)
    table = found[1] if found is not None else None
    current_start = table.starting_balance if table is not None else None
    start = current_start if starting_balance is ... else starting_balance
    if table is None and not profile and start is None:
        return config
    if table is not None and table.profile == profile and current_start == start:
        return config
    data: dict[str, Any] = table.model_dump(mode="python") if table is not None else {}
    data["profile"] = profile
    data.pop("starting_balance", None)
    if start is not None:
        data["starting_balance"] = start
    # Validated as the file is, so a refused value names its key (accounts.NAME.starting_balance).
    whole = config.to_data()
    whole.setdefault("accounts", {})[found[0] if found is not None else name] = data
    return config_from_data(whole).with_written(config.written)
