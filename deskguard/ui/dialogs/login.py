"""Sign in with a ProjectX username and API key; or try the demo.

The key goes to the OS keyring (service ``deskguard``, user = the username) through
:class:`~deskguard.secrets.CredentialStore` and nowhere else: not config.toml, not a log, not an
error message. With no keyring on the machine the dialog says so in plain words and offers to keep
the key for this session only; it never falls back to a file. The username and the accounts chosen
go to ``config.toml`` ``[connection]`` (the user's comments kept).

"Test connection" signs in for real (``Auth/loginKey`` + ``Account/search`` through the broker
adapter), lists the active accounts to choose from, and tells three failures apart: a refused key,
a gateway that cannot be reached, and a gateway that answered with an error. Everything runs on the
event loop: the guard (if any) keeps running while the dialog waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...config import ConfigError, DeskGuardConfig, load_config, save_config
from ...config.paths import config_path
from ...engine.profiles import propose_profile
from ...guardian import AuthenticationError, BrokerError, GatewayUnreachable
from ...secrets import Credentials, CredentialStore, KeyringUnavailable, redactor
from .field_editors import ERROR_COLOR, HELP_COLOR
from .profile_choice import ProfileChoice, with_profile

log = logging.getLogger(__name__)

OK_COLOR = "#2e7d32"

NO_KEYRING_TEXT = (
    "This computer has no system keyring DeskGuard can use (such as GNOME Keyring, KWallet, the "
    "Windows Credential Manager or the macOS Keychain), so it cannot remember your API key safely. "
    "DeskGuard never writes the key to a file. You can keep it for this session only: you will "
    "enter it again the next time DeskGuard starts."
)

#: Signs in at the gateway and lists the active accounts: (username, api_key, api_url=…,
#: user_hub_url=…, market_hub_url=…, request_timeout=…) -> accounts. The default is
#: :func:`deskguard.runtime.check_sign_in` (the real project-x-py adapter, disconnected afterwards).
SignInCheck = Callable[..., Awaitable[Sequence[Any]]]


async def _default_check_sign_in(username: str, api_key: str, **kwargs: Any) -> Sequence[Any]:
    from ...runtime import check_sign_in

    return await check_sign_in(username, api_key, **kwargs)


@dataclass(frozen=True)
class SignInResult:
    credentials: Credentials
    accounts: tuple[str, ...]  # the names chosen; () = every active account
    session_only: bool  # the key is in memory only (no keyring): sign in again next start


def sign_out(username: str, store: CredentialStore | None = None) -> None:
    """Remove the API key (keyring and session memory). The username stays in config.toml so the
    sign-in dialog can offer it again."""
    (store or CredentialStore()).delete(username)


class SignInDialog(QDialog):
    """Username, API key (masked), test connection, accounts, keyring or session-only; or the demo.

    Signals: ``signedIn(SignInResult)`` once the key is stored and config.toml updated;
    ``demoRequested()`` for "Try the demo instead". Open it with ``open()``."""

    signedIn = Signal(object)
    demoRequested = Signal()

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        config_file: Path | None = None,
        credential_store: CredentialStore | None = None,
        check_sign_in: SignInCheck | None = None,
        request_timeout: float = 10.0,
        offer_demo: bool = True,
        first_run: bool = False,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sign in — DeskGuard")
        self.setMinimumWidth(560)
        self.config_file = Path(config_file) if config_file is not None else config_path()
        self.credential_store = credential_store or CredentialStore()
        self.check_sign_in = check_sign_in or _default_check_sign_in
        self.request_timeout = request_timeout
        self.status_kind = ""  # "", busy, ok, missing, wrong_key, unreachable, gateway_error, no_accounts, keyring, config
        self.result_value: SignInResult | None = None
        self._tested: tuple[str, str] | None = None  # the username/key the listed accounts belong to
        self._task: asyncio.Task | None = None
        self._working = False  # a test or a sign-in is talking to the gateway
        self.config: DeskGuardConfig | None = None
        self.config_problem = ""
        try:
            self.config = load_config(self.config_file)
        except ConfigError as exc:
            self.config_problem = str(exc)
        conn = self.config.connection if self.config is not None else None

        intro = QLabel(
            ("Welcome to DeskGuard. " if first_run else "")
            + "Sign in with your ProjectX username and API key (TopstepX: Settings → API). The key is kept "
            "in your system's keyring, never in a file."
            + (" Or try the demo first: it trades on a built-in simulator, no account needed." if offer_demo else "")
        )
        intro.setWordWrap(True)

        self.username = QLineEdit(conn.username if conn is not None and conn.username else "")
        self.username.setPlaceholderText("your ProjectX username")
        self.api_key = QLineEdit()
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key.setPlaceholderText("paste your API key")
        self.api_key.setInputMethodHints(Qt.InputMethodHint.ImhHiddenText | Qt.InputMethodHint.ImhSensitiveData
                                         | Qt.InputMethodHint.ImhNoPredictiveText)
        form = QFormLayout()
        form.addRow("Username", self.username)
        form.addRow("API key", self.api_key)
        self.gateway = QLabel()
        self.api_url = conn.api_url if conn is not None else None
        self.hub_urls = (conn.user_hub_url, conn.market_hub_url) if conn is not None else (None, None)
        if self.api_url:
            self.gateway.setText(self.api_url)
            form.addRow("Gateway", self.gateway)

        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.start_test)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # an indeterminate "working" bar
        self.busy.setMaximumWidth(160)
        self.busy.setTextVisible(False)
        self.busy.setVisible(False)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.busy)
        test_row.addStretch(1)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.accounts_label = QLabel("Accounts to guard (all ticked = every active account, new ones included):")
        self.accounts_label.setWordWrap(True)
        self.accounts = QListWidget()
        self.accounts.setMaximumHeight(130)
        self.accounts_label.setVisible(False)
        self.accounts.setVisible(False)
        # Each account's firm profile, proposed from its name and balance; the user confirms or changes it.
        self.profiles_box = QFrame()
        self.profiles_form = QFormLayout(self.profiles_box)
        self.profiles_form.setContentsMargins(0, 0, 0, 0)
        self.profile_choices: dict[str, ProfileChoice] = {}
        self.profiles_box.setVisible(False)

        self.keyring_box = QFrame()
        self.keyring_box.setFrameShape(QFrame.Shape.StyledPanel)
        box = QVBoxLayout(self.keyring_box)
        self.keyring_text = QLabel(NO_KEYRING_TEXT)
        self.keyring_text.setWordWrap(True)
        self.session_only = QCheckBox("Keep the key for this session only")
        self.session_only.toggled.connect(self._refresh_buttons)
        box.addWidget(self.keyring_text)
        box.addWidget(self.session_only)
        self.keyring_box.setVisible(False)
        self.keyring_offered = False  # "this session only" is on offer (no usable keyring)

        self.sign_in_button = QPushButton("Sign in")
        self.sign_in_button.setDefault(True)
        self.sign_in_button.clicked.connect(self.start_sign_in)
        self.demo_button = QPushButton("Try the demo instead")
        self.demo_button.clicked.connect(self.choose_demo)
        self.demo_button.setVisible(offer_demo)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.demo_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.sign_in_button)

        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(form)
        lay.addLayout(test_row)
        lay.addWidget(self.status)
        lay.addWidget(self.accounts_label)
        lay.addWidget(self.accounts)
        lay.addWidget(self.profiles_box)
        lay.addWidget(self.keyring_box)
        lay.addStretch(1)
        lay.addLayout(buttons)

        self.username.textChanged.connect(self._credentials_edited)
        self.api_key.textChanged.connect(self._credentials_edited)
        if self.config_problem:
            self._say("config", f"config.toml has a problem, so DeskGuard cannot remember who signs in. "
                                f"Fix it first (nothing was changed):\n{self.config_problem}")
        if not self.credential_store.available():
            self.offer_session_only(NO_KEYRING_TEXT)
        self._refresh_buttons()

    # -- state ------------------------------------------------------------------------------------

    def _fields(self) -> tuple[str, str]:
        return self.username.text().strip(), self.api_key.text().strip()

    def _credentials_edited(self) -> None:
        if self._tested is not None and self._tested != self._fields():
            self._tested = None  # the accounts listed belong to other credentials
            self.accounts.clear()
            self.accounts_label.setVisible(False)
            self.accounts.setVisible(False)
            self._show_profiles([])
            if self.status_kind == "ok":
                self._say("", "")
        self._refresh_buttons()

    @property
    def is_busy(self) -> bool:
        return self._working

    def _refresh_buttons(self) -> None:
        username, key = self._fields()
        filled = bool(username and key)
        needs_choice = self.keyring_offered and not self.session_only.isChecked()
        self.test_button.setEnabled(filled and not self.is_busy)
        self.sign_in_button.setEnabled(filled and not self.is_busy and not needs_choice and not self.config_problem)
        self.username.setEnabled(not self.is_busy)
        self.api_key.setEnabled(not self.is_busy)

    def _say(self, kind: str, text: str) -> None:
        self.status_kind = kind
        colour = {"ok": OK_COLOR, "busy": HELP_COLOR, "": HELP_COLOR}.get(kind, ERROR_COLOR)
        self.status.setStyleSheet(f"QLabel {{ color: {colour}; }}")
        self.status.setText(redactor(text))
        self._fit()

    def offer_session_only(self, reason: str) -> None:
        """No keyring: say so plainly and offer to keep the key in memory for this session."""
        self.keyring_text.setText(reason)
        self.keyring_offered = True
        self.keyring_box.setVisible(True)
        self._refresh_buttons()
        self._fit()

    def _fit(self) -> None:
        # Wrapped labels report no height of their own: grow the dialog so every line shows.
        layout = self.layout()
        if layout is None:
            return
        layout.activate()
        wanted = layout.heightForWidth(self.width()) if layout.hasHeightForWidth() else self.sizeHint().height()
        if wanted > self.height():
            self.resize(self.width(), wanted)

    # -- test connection -----------------------------------------------------------------------------

    def start_test(self) -> None:
        if not self.is_busy:
            self._task = asyncio.ensure_future(self._run(self.test_connection()))

    def start_sign_in(self) -> None:
        if not self.is_busy:
            self._task = asyncio.ensure_future(self._run(self.sign_in()))

    async def _run(self, coro: Any) -> None:
        self._working = True
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # shown, never swallowed silently
            log.exception("sign-in failed")
            self._say("gateway_error", f"Something went wrong: {exc}")
        finally:
            self._working = False
            self.busy.setVisible(False)
            self._refresh_buttons()

    async def test_connection(self) -> list[Any] | None:
        """Sign in at the gateway and list the active accounts; None (with the reason shown) on failure."""
        username, key = self._fields()
        if not username or not key:
            self._say("missing", "Enter your ProjectX username and API key.")
            return None
        redactor.add(key)
        self._say("busy", "Connecting to the gateway…")
        self.busy.setVisible(True)
        self._refresh_buttons()
        try:
            accounts = list(await self.check_sign_in(
                username, key, api_url=self.api_url, user_hub_url=self.hub_urls[0], market_hub_url=self.hub_urls[1],
                request_timeout=self.request_timeout,
            ))
        except AuthenticationError as exc:
            self._say("wrong_key", "The gateway refused this username and API key. Check both: the API key is "
                                   "under Settings → API in TopstepX (copy it again, all of it).\n"
                                   f"Details: {exc}")
            return None
        except GatewayUnreachable as exc:
            self._say("unreachable", "Cannot reach the gateway. Check your internet connection (or a firewall "
                                     f"or proxy) and try again.\nDetails: {exc}")
            return None
        except BrokerError as exc:
            self._say("gateway_error", "The gateway answered with an error, so signing in did not work. "
                                       f"Try again in a minute.\nDetails: {exc}")
            return None
        except ValueError as exc:  # e.g. a gateway URL the SDK refuses
            self._say("gateway_error", f"The gateway settings are not usable: {exc}")
            return None
        finally:
            self.busy.setVisible(False)
        self._tested = (username, key)
        self._show_accounts(accounts)
        if not accounts:
            self._say("no_accounts", "Signed in, but the gateway lists no active account for this user. "
                                     "DeskGuard will guard accounts as soon as they are active.")
        else:
            self._say("ok", f"Connected: {len(accounts)} active account{'s' if len(accounts) != 1 else ''}.")
        return accounts

    def _show_accounts(self, accounts: Sequence[Any]) -> None:
        configured = {str(a).strip().lower() for a in (self.config.connection.accounts if self.config else ())}
        self.accounts.clear()
        for account in accounts:
            item = QListWidgetItem(f"{account.name}  (id {account.id}, balance {account.balance:,.2f})")
            item.setData(Qt.ItemDataRole.UserRole, account.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            wanted = not configured or account.name.lower() in configured or str(account.id) in configured
            item.setCheckState(Qt.CheckState.Checked if wanted else Qt.CheckState.Unchecked)
            self.accounts.addItem(item)
        self.accounts_label.setVisible(bool(accounts))
        self.accounts.setVisible(bool(accounts))
        self._show_profiles(accounts)

    def _show_profiles(self, accounts: Sequence[Any]) -> None:
        """A profile choice per account: the one config.toml gives it, else the one its name and
        balance suggest (``50KTC…`` → the 50K Combine, ``…XFA…`` → the Express Funded account…)."""
        while self.profiles_form.rowCount():
            self.profiles_form.removeRow(0)
        self.profile_choices = {}
        if accounts:
            title = QLabel("Firm profile of each account (the firm's rules DeskGuard guards it by):")
            title.setWordWrap(True)
            self.profiles_form.addRow(title)
        for account in accounts:
            found = self.config.account_table(account.name) or self.config.account_table(account.id) \
                if self.config is not None else None
            profile = found[1].profile if found is not None else propose_profile(account.name, account.balance)
            choice = ProfileChoice(profile)
            self.profile_choices[account.name] = choice
            self.profiles_form.addRow(account.name, choice)
        self.profiles_box.setVisible(bool(accounts))
        self._fit()

    def chosen_profiles(self) -> dict[str, str]:
        """The profile picked for each account listed, by name ("" = none)."""
        return {name: choice.profile() for name, choice in self.profile_choices.items()}

    def chosen_accounts(self) -> tuple[str, ...] | None:
        """Names ticked; () when all are (every active account); None when none is."""
        items = [self.accounts.item(i) for i in range(self.accounts.count())]
        ticked = [i.data(Qt.ItemDataRole.UserRole) for i in items if i.checkState() == Qt.CheckState.Checked]
        if items and not ticked:
            return None
        return () if len(ticked) == len(items) else tuple(ticked)

    # -- sign in ----------------------------------------------------------------------------------

    async def sign_in(self) -> SignInResult | None:
        username, key = self._fields()
        if self._tested != (username, key) and await self.test_connection() is None:
            return None
        accounts = self.chosen_accounts()
        if accounts is None:
            self._say("missing", "Tick at least one account to guard.")
            return None
        assert self.config is not None
        try:
            updated = self.config.with_section("connection", username=username, accounts=list(accounts))
            for name, profile in self.chosen_profiles().items():
                if not accounts or name in accounts:
                    updated = with_profile(updated, name, profile)
        except ConfigError as exc:
            self._say("config", f"Cannot save these accounts in config.toml: {exc}")
            return None
        session_only = self.keyring_offered and self.session_only.isChecked()
        if session_only:
            self.credential_store.keep_for_session(username, key)
        else:
            try:
                self.credential_store.save(username, key)
            except KeyringUnavailable as exc:
                self._say("keyring", "The API key could not be stored in the system keyring.")
                self.offer_session_only(f"{exc}\n\n{NO_KEYRING_TEXT}")
                return None
        try:
            save_config(updated, self.config_file)
        except (OSError, ConfigError, RuntimeError) as exc:
            self._say("config", f"Could not write config.toml: {exc}")
            return None
        self.result_value = SignInResult(Credentials(username, key), accounts, session_only)
        self._say("ok", "Signed in.")
        self.signedIn.emit(self.result_value)
        self.accept()
        return self.result_value

    def choose_demo(self) -> None:
        self.demoRequested.emit()
        self.accept()

    # -- closing ----------------------------------------------------------------------------------

    def done(self, result: int) -> None:
        task = self._task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()  # closing while the gateway is asked: stop asking
        self.api_key.clear()  # the key stays in memory no longer than needed
        super().done(result)
