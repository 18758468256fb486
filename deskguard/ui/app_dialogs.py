"""The desktop app's dialogs: sign in and out, the rule editor, the Rules lab and the settings.

One of each kind is open at a time; each is opened with ``open()`` and answers through signals, so
nothing here blocks the event loop and a running guard keeps enforcing while a dialog is up. What an
answer means for the guard (switching it, refreshing the view) is asked of the :class:`DesktopApp`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QDialog, QMessageBox

from ..exit_codes import ExitCode

if TYPE_CHECKING:
    from .app import DesktopApp

NOT_SIGNED_IN = "Not signed in: DeskGuard is not guarding any account. Sign in (Account → Sign in…), or try the demo."


class AppDialogs:
    """The dialogs open in one :class:`DesktopApp`, by kind, and what their answers do."""

    def __init__(self, desktop: DesktopApp) -> None:
        self.desktop = desktop
        self.dialogs: dict[str, Any] = {}  # open dialogs by kind: one of each at a time

    def close_all(self, kinds: tuple[str, ...] | None = None) -> None:
        """Reject the open dialogs (of ``kinds``, or all)."""
        for kind, dialog in list(self.dialogs.items()):
            if kinds is None or kind in kinds:
                dialog.reject()

    def _show_dialog(self, kind: str, dialog: QDialog) -> None:
        self.dialogs[kind] = dialog
        dialog.finished.connect(lambda _result: self._dialog_closed(kind, dialog))
        dialog.open()  # never exec(): the guard keeps running while the dialog is up

    def _dialog_closed(self, kind: str, dialog: QDialog) -> None:
        if self.dialogs.get(kind) is dialog:
            del self.dialogs[kind]
        dialog.deleteLater()

    def _raise_dialog(self, kind: str) -> bool:
        dialog = self.dialogs.get(kind)
        if dialog is not None and dialog.isVisible():
            dialog.raise_()
            dialog.activateWindow()
            return True
        return False

    def _message(self, title: str, text: str) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self.desktop.window)
        box.finished.connect(box.deleteLater)
        box.open()
        return box

    def open_sign_in(self, first_run: bool = False) -> Any:
        """The sign-in dialog (with "Try the demo instead"); signing in switches the guard."""
        if self._raise_dialog("sign_in"):
            return self.dialogs["sign_in"]
        from .dialogs.login import SignInDialog

        dialog = SignInDialog(self.desktop.window, config_file=self.desktop.user_config_file(),
                              credential_store=self.desktop.credential_store,
                              check_sign_in=self.desktop.check_sign_in, first_run=first_run)
        dialog.signedIn.connect(self._signed_in)
        dialog.demoRequested.connect(self._demo_chosen)
        self._show_dialog("sign_in", dialog)
        return dialog

    def _signed_in(self, result: Any) -> None:
        self.desktop.args.demo = False
        self.desktop.args.credentials = result.credentials
        self.desktop.window.set_demo(False)
        self.desktop.exit_code = ExitCode.OK
        self.desktop.switch_guard()

    def _demo_chosen(self) -> None:
        self.desktop.args.demo = True
        self.desktop.args.credentials = None
        self.desktop.window.set_demo(True)
        self.desktop.exit_code = ExitCode.OK
        self.desktop.switch_guard()

    def ask_sign_out(self) -> None:
        username = self.desktop.username
        if not username or self._raise_dialog("sign_out"):
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Sign out?",
                          f"Sign out {username}? DeskGuard stops guarding until you sign in again, and the API key "
                          "is removed from this computer's keyring. Locks stay: they are enforced again as soon as "
                          "you sign in.", QMessageBox.StandardButton.Cancel, self.desktop.window)
        sign_out_button = box.addButton("Sign out", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: self._start_sign_out(username) if button is sign_out_button else None)
        self._show_dialog("sign_out", box)

    def _start_sign_out(self, username: str) -> None:
        self.desktop.switch(self.sign_out(username))

    async def sign_out(self, username: str) -> None:
        """Stop guarding, remove the key (keyring and session memory), offer the sign-in dialog."""
        from .dialogs.login import sign_out

        await self.desktop.stop_guarding()
        sign_out(username, self.desktop.credential_store)
        self.desktop.args.credentials = None
        self.desktop.window.set_signed_in(None)
        self.desktop.window.show_startup_error(NOT_SIGNED_IN)
        self.open_sign_in()

    def open_rule_editor(self) -> Any:
        if self._raise_dialog("rules"):
            return self.dialogs["rules"]
        from ..config import ConfigError
        from .dialogs.rule_editor import RuleEditorDialog

        try:
            dialog = RuleEditorDialog(self.desktop.window, config_file=self.desktop.guard_config_file(),
                                      runtime=self.desktop.current_runtime())
        except ConfigError as exc:
            self._message("config.toml has a problem", f"Fix config.toml before editing the rules (nothing was changed):\n{exc}")
            return None
        dialog.saved.connect(self._rules_saved)
        self._show_dialog("rules", dialog)
        return dialog

    def _rules_saved(self, plan: Any) -> None:
        self.desktop.vm.refresh_settings()
        if plan is None:
            self.desktop.window.statusBar().showMessage("Rules saved; they apply when DeskGuard starts guarding.", 15000)
            return
        text = f"Rules saved: {len(plan.applied_changes)} change(s) applied now"
        if plan.pending_changes:
            text += f", {len(plan.pending_changes)} waiting for the next reset"
        self.desktop.window.statusBar().showMessage(text + ".", 15000)

    def open_replay_lab(self) -> Any:
        """Rules → Replay history…: the Rules lab, on the running guard's broker and rules."""
        if self._raise_dialog("replay"):
            return self.dialogs["replay"]
        from ..config import ConfigError
        from .dialogs.replay_lab import ReplayLab

        try:
            dialog = ReplayLab(self.desktop.window, runtime=self.desktop.current_runtime())
        except ConfigError as exc:
            self._message("config.toml has a problem", f"Fix config.toml before replaying (nothing was changed):\n{exc}")
            return None
        dialog.rulesUsed.connect(self._rules_saved)
        self._show_dialog("replay", dialog)
        return dialog

    def open_settings(self) -> Any:
        if self._raise_dialog("settings"):
            return self.dialogs["settings"]
        from ..config import ConfigError
        from .dialogs.settings import SettingsDialog

        runtime = self.desktop.current_runtime()
        guardian = getattr(runtime, "guardian", None)
        known = [(a.id, a.name) for a in (getattr(guardian, "account_info", None) or {}).values()]
        try:
            dialog = SettingsDialog(self.desktop.window, config_file=self.desktop.guard_config_file(), runtime=runtime,
                                    known_accounts=known)
        except ConfigError as exc:
            self._message("config.toml has a problem",
                          f"Fix config.toml before changing the settings (nothing was changed):\n{exc}")
            return None
        dialog.saved.connect(self._settings_saved)
        self._show_dialog("settings", dialog)
        return dialog

    def _settings_saved(self, config: Any) -> None:
        self.desktop.apply_desktop_settings(config)
        self.desktop.vm.refresh_settings()
        self.desktop.window.statusBar().showMessage("Settings saved.", 15000)
