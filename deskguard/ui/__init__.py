"""The desktop app (Qt via qasync): dashboard, P&L chart, lock banner, tray, demo practice ticket.

Nothing here decides anything: the UI shows what the guardian publishes and asks nothing of the
broker (the practice ticket, in demo mode only, talks to the built-in simulator)."""
