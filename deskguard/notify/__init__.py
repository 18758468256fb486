"""Notifications that find the trader away from the screen: webhooks (rules.md "Notifications").

``formats`` turns one event into the HTTP request of each webhook format, ``sender`` delivers it in
the background (bounded retries, a short timeout; Apprise through its async API), and ``notifier``
is the guardian observer that decides what to send and when — including ``not_guarding`` after
``not_guarding_after`` without a break and ``guarding_again`` after it. Nothing here is on the
enforcement path: a dead webhook adds nothing to enforcement time.
"""

from .formats import Message, WebhookRequest, render_request
from .notifier import Notifier
from .sender import SendResult, WebhookSender, send_test

__all__ = ["Message", "Notifier", "SendResult", "WebhookRequest", "WebhookSender", "render_request", "send_test"]
