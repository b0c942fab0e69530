"""Where alerts go: a Slack-compatible incoming webhook (``POST {"text": ...}``) and/or email
(plain SMTP through :mod:`smtplib`, in a thread). See ``docs/alerts.md``.

Sending never raises into the caller. A notification a channel fails to take (connection
error, timeout, an answer other than 2xx, an SMTP error) is logged and kept in memory for that
channel; the next :meth:`Notifier.send` tries it again first, in order, for up to
``retry_seconds`` after it was made (then it is dropped with a warning). A channel that fails
is not tried again in the same pass, so a dead receiver costs one timeout per evaluation. The
alert's state in the store (what the dashboard shows) never waits for a notification: alerts
raise and resolve whether or not their messages got through. Pending notifications live in
the process that raised them and are lost if it stops.

Messages carry names of datasets and destinations, counts and platform reasons only: never
personal data. The webhook URL holds a token: it is never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol

import httpx

from signalyard import outbound
from signalyard.clock import Clock
from signalyard.secret import Secret
from signalyard.settings import AlertSettings

__all__ = [
    "Channel",
    "EmailChannel",
    "Notification",
    "Notifier",
    "NotifyError",
    "WebhookChannel",
    "email_message",
    "webhook_body",
]

log = logging.getLogger("signalyard.alerts")

TIMEOUT_SECONDS = 10.0
RETRY_SECONDS = 3600.0
"""A notification a channel failed to take is retried at each evaluation for this long."""
MAX_PENDING = 100
"""Per channel; past it the oldest pending notifications are dropped."""

_KIND_TITLES = {
    "volume_drop": "Event volume drop",
    "error_rate": "Delivery error rate",
    "destination_paused": "Destination paused",
    "age_limit": "Events near the age limit",
}


class NotifyError(Exception):
    """A channel did not take a notification (the message says why, without secrets)."""


@dataclass(frozen=True, slots=True)
class Notification:
    kind: str
    """``volume_drop``, ``error_rate``, ``destination_paused``, ``age_limit``."""
    subject: str
    """``dataset:<id>`` or ``destination:<id>``."""
    state: str
    """``firing`` (the alert was raised) or ``resolved``."""
    message: str
    """One or two sentences: what, where, the numbers."""
    at: float

    @property
    def title(self) -> str:
        return _KIND_TITLES.get(self.kind, self.kind)

    @property
    def text(self) -> str:
        """The whole notification as one line of text (the webhook's ``text``)."""
        label = "FIRING" if self.state == "firing" else "RESOLVED"
        return f"[Signalyard] {label}: {self.title}. {self.message}"


def _slack_escape(text: str) -> str:
    # Slack's message formatting: these three must be escaped in `text`.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_body(notification: Notification) -> dict[str, str]:
    """The JSON body of a Slack-compatible incoming webhook."""
    return {"text": _slack_escape(notification.text)}


def email_message(
    notification: Notification, *, sender: str, recipients: Sequence[str]
) -> EmailMessage:
    label = "FIRING" if notification.state == "firing" else "RESOLVED"
    message = EmailMessage()
    message["Subject"] = f"[Signalyard] {label}: {notification.title}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(notification.at, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(notification.at))
    message.set_content(
        f"{notification.message}\n\n"
        f"Alert: {notification.kind}\n"
        f"About: {notification.subject}\n"
        f"State: {notification.state}\n"
        f"At: {when}\n"
    )
    return message


class Channel(Protocol):
    name: str

    async def send(self, notification: Notification) -> None:
        """Deliver or raise (:class:`NotifyError` or any exception)."""
        ...


class WebhookChannel:
    """POST ``{"text": ...}`` to a Slack-compatible incoming webhook; any 2xx is success."""

    name = "webhook"

    def __init__(
        self, client: httpx.AsyncClient, url: Secret, *, timeout: float = TIMEOUT_SECONDS
    ) -> None:
        self.client = client
        self.url = url
        self.timeout = timeout

    async def send(self, notification: Notification) -> None:
        url = self.url.reveal()
        try:
            reply = await outbound.request(
                self.client, "POST", url, json=webhook_body(notification), timeout=self.timeout
            )
        except Exception as error:
            # httpx messages may quote the URL, which holds the webhook's token.
            detail = str(error).replace(url, "<webhook url>") or type(error).__name__
            raise NotifyError(f"webhook unreachable: {type(error).__name__}: {detail}") from None
        if not reply.is_success:
            raise NotifyError(f"webhook answered HTTP {reply.status}")


class _SMTP(Protocol):
    """What is used of :class:`smtplib.SMTP` (connected by the factory)."""

    def send_message(self, msg: EmailMessage) -> Any: ...
    def quit(self) -> Any: ...
    def close(self) -> None: ...


SMTPFactory = Callable[[str, int, float], _SMTP]


def _smtp(host: str, port: int, timeout: float) -> _SMTP:
    return smtplib.SMTP(host, port, timeout=timeout)


class EmailChannel:
    """One email per notification through an SMTP relay (no TLS, no login: a local relay or
    a trusted network's)."""

    name = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        timeout: float = TIMEOUT_SECONDS,
        smtp_factory: SMTPFactory = _smtp,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.recipients = list(recipients)
        self.timeout = timeout
        self.smtp_factory = smtp_factory

    def _send_now(self, message: EmailMessage) -> None:
        smtp = self.smtp_factory(self.host, self.port, self.timeout)
        try:
            smtp.send_message(message)
            with contextlib.suppress(smtplib.SMTPServerDisconnected):
                smtp.quit()
        finally:
            smtp.close()

    async def send(self, notification: Notification) -> None:
        message = email_message(notification, sender=self.sender, recipients=self.recipients)
        try:
            await asyncio.to_thread(self._send_now, message)
        except (OSError, smtplib.SMTPException) as error:
            raise NotifyError(f"email not sent: {type(error).__name__}: {error}") from None


def channels_from_settings(settings: AlertSettings, client: httpx.AsyncClient) -> list[Channel]:
    """The webhook when ``webhook_url`` is set; email when ``smtp_host`` and ``email_to``
    are."""
    channels: list[Channel] = []
    if settings.webhook_url:
        channels.append(WebhookChannel(client, settings.webhook_url))
    recipients = [r.strip() for r in settings.email_to.split(",") if r.strip()]
    if settings.smtp_host and recipients:
        channels.append(
            EmailChannel(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.email_from,
                recipients=recipients,
            )
        )
    return channels


@dataclass(slots=True)
class _Pending:
    notification: Notification
    tries: int = 0


class Notifier:
    """Sends notifications to every channel, keeping what a channel failed to take for the
    next call (see the module's docstring)."""

    def __init__(
        self,
        channels: Sequence[Channel],
        *,
        clock: Clock,
        retry_seconds: float = RETRY_SECONDS,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.channels = list(channels)
        self.clock = clock
        self.retry_seconds = retry_seconds
        self.max_pending = max_pending
        self._pending: dict[str, deque[_Pending]] = {c.name: deque() for c in self.channels}

    def pending(self, channel: str) -> list[Notification]:
        """What ``channel`` has yet to take, oldest first."""
        return [p.notification for p in self._pending.get(channel, ())]

    async def send(self, notifications: Sequence[Notification]) -> None:
        """Queue ``notifications`` on every channel, then deliver each channel's queue in
        order (channels concurrently) until the queue is empty or one fails."""
        if not self.channels:
            return
        for channel in self.channels:
            queue = self._pending[channel.name]
            queue.extend(_Pending(n) for n in notifications)
            self._trim(channel.name, queue)
        await asyncio.gather(*(self._drain(c) for c in self.channels))

    def _trim(self, name: str, queue: deque[_Pending]) -> None:
        horizon = self.clock.now() - self.retry_seconds
        dropped = 0
        while queue and (len(queue) > self.max_pending or queue[0].notification.at < horizon):
            queue.popleft()
            dropped += 1
        if dropped:
            log.warning(
                "Alert %s: dropped %d notification(s) it could not deliver in time.",
                name,
                dropped,
            )

    async def _drain(self, channel: Channel) -> None:
        queue = self._pending[channel.name]
        while queue:
            item = queue[0]
            try:
                await channel.send(item.notification)
            except Exception as error:
                item.tries += 1
                reason = str(error) if isinstance(error, NotifyError) else repr(error)
                log.warning(
                    "Alert %s: %s notification %s %s not delivered (try %d, %d waiting): %s;"
                    " will retry at the next evaluation.",
                    channel.name,
                    item.notification.state,
                    item.notification.kind,
                    item.notification.subject,
                    item.tries,
                    len(queue),
                    reason,
                )
                return
            queue.popleft()
