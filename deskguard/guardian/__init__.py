"""The async orchestrator between broker, engine, store and the observers (UI or headless log)."""

from .core import Guardian, PendingSettings
from .snapshot import AccountSnapshot, GuardianObserver, Notice, NoticeLevel, PnlPoint, PositionView

__all__ = ["AccountSnapshot", "Guardian", "GuardianObserver", "Notice", "NoticeLevel", "PendingSettings", "PnlPoint", "PositionView"]
