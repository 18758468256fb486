"""The desktop app's dialogs: sign-in, the rule editor (generated from the rules' schemas) and the
settings. Each one is opened with ``open()`` and reports through signals, never ``exec()``: the
guard keeps running while a dialog is up."""
