"""Notification bodies and the retry queue, without a store."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.insights.notify import (
    EmailChannel,
    Notification,
    Notifier,
    NotifyError,
    channels_from_settings,
    email_message,
    webhook_body,
)
from signalyard.secret import Secret
from signalyard.settings import AlertSettings

pytestmark = pytest.mark.anyio
AT = 1_800_000_000.0


def note(state: str = "firing", message: str = "Destination x is paused.") -> Notification:
    return Notification("destination_paused", "destination:1", state, message, AT)


def test_webhook_body_is_slack_text_escaped() -> None:
    body = webhook_body(note(message='Dataset "A&B <shop>" dropped.'))
    assert body == {
        "text": '[Signalyard] FIRING: Destination paused. Dataset "A&amp;B &lt;shop&gt;" dropped.'
    }
    assert webhook_body(note("resolved"))["text"].startswith("[Signalyard] RESOLVED: ")


def test_email_message() -> None:
    message = email_message(note(), sender="sy@example.com", recipients=["a@x.io", "b@x.io"])
    assert message["Subject"] == "[Signalyard] FIRING: Destination paused"
    assert message["To"] == "a@x.io, b@x.io"
    assert message["Date"] == "Fri, 15 Jan 2027 08:00:00 +0000"
    body = message.get_content()
    assert body.startswith("Destination x is paused.\n\n")
    assert "Alert: destination_paused\nAbout: destination:1\nState: firing\n" in body
    assert "At: 2027-01-15 08:00:00 UTC" in body


def test_channels_from_settings() -> None:
    client = httpx.AsyncClient()
    assert channels_from_settings(AlertSettings(), client) == []
    # email needs both a host and recipients
    assert channels_from_settings(AlertSettings(smtp_host="mx"), client) == []
    assert channels_from_settings(AlertSettings(email_to="a@x.io"), client) == []
    both = channels_from_settings(
        AlertSettings(
            webhook_url=Secret("https://hooks.slack.com/services/x"),
            smtp_host="mx",
            email_to=" a@x.io, ,b@x.io ",
        ),
        client,
    )
    assert [c.name for c in both] == ["webhook", "email"]
    email = both[1]
    assert isinstance(email, EmailChannel)
    assert email.recipients == ["a@x.io", "b@x.io"]
    assert (email.host, email.port, email.sender) == ("mx", 25, "signalyard@localhost")


class FakeSMTP:
    sent: list[tuple[str, int, float, EmailMessage]] = []
    fail: bool = False

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.args = (host, port, timeout)
        self.closed = False

    def send_message(self, msg: EmailMessage) -> Any:
        if FakeSMTP.fail:
            raise smtplib.SMTPRecipientsRefused({"a@x.io": (550, b"no such user")})
        FakeSMTP.sent.append((*self.args, msg))
        return {}

    def quit(self) -> Any:
        return (221, b"bye")

    def close(self) -> None:
        self.closed = True


async def test_email_channel_with_an_injected_smtp() -> None:
    FakeSMTP.sent = []
    FakeSMTP.fail = False
    channel = EmailChannel(
        host="mx", port=2525, sender="sy@x.io", recipients=["a@x.io"], smtp_factory=FakeSMTP
    )
    await channel.send(note())
    [(host, port, timeout, message)] = FakeSMTP.sent
    assert (host, port, timeout) == ("mx", 2525, 10.0)
    assert message["To"] == "a@x.io"
    FakeSMTP.fail = True
    with pytest.raises(NotifyError, match="email not sent: SMTPRecipientsRefused"):
        await channel.send(note())


class Recorder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[Notification] = []
        self.failing = False
        self.calls = 0

    async def send(self, notification: Notification) -> None:
        self.calls += 1
        if self.failing:
            raise NotifyError("down")
        self.sent.append(notification)


async def test_notifier_retries_per_channel_in_order() -> None:
    clock = FrozenClock(AT)
    good, bad = Recorder("good"), Recorder("bad")
    bad.failing = True
    notifier = Notifier([good, bad], clock=clock, max_pending=3)
    await notifier.send([note(), note("resolved")])
    assert [n.state for n in good.sent] == ["firing", "resolved"]
    assert bad.calls == 1  # one failure stops the channel for this pass
    assert [n.state for n in notifier.pending("bad")] == ["firing", "resolved"]

    await notifier.send([note(message="2"), note(message="3")])
    assert [n.message for n in notifier.pending("bad")][-1] == "3"
    assert len(notifier.pending("bad")) == 3  # the oldest dropped past max_pending

    bad.failing = False
    await notifier.send([])
    assert [n.message for n in bad.sent] == ["Destination x is paused.", "2", "3"]
    assert notifier.pending("bad") == []
    assert len(good.sent) == 4


async def test_notifier_survives_unexpected_errors() -> None:
    class Broken:
        name = "broken"

        async def send(self, notification: Notification) -> None:
            raise RuntimeError("bug")

    notifier = Notifier([Broken()], clock=FrozenClock(AT))
    await notifier.send([note()])
    assert len(notifier.pending("broken")) == 1
