"""The dashboard's parts, each fed immutable snapshots by the main window."""
