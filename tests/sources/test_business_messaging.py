"""Business messaging end to end: sales closed in Messenger, Instagram or WhatsApp chats reach
the (mounted) Meta sandbox as ``business_messaging`` events with their ``messaging_channel``
and the channel's ids in plaintext, through the Graph-compatible API and through
``signalyard import``; per channel, a missing id is refused naming the field, and nothing is
stored. The recipe these tests prove is docs/business-messaging.md."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import orjson
import pytest
from click.testing import CliRunner, Result
from starlette.applications import Starlette

from signalyard.app import create_app
from signalyard.cli import main
from signalyard.clock import SystemClock
from signalyard.sandbox.meta.app import create_app as create_sandbox_app
from signalyard.secret import Secret
from signalyard.settings import DeliverySettings, Settings
from signalyard.sources.auth import new_key
from signalyard.store.sqlite import SQLiteStore

from .conftest import Gateway

DATASET = "1234567890"
SANDBOX = "/sandbox/meta/_sandbox"

# The customer, as a social-selling POS knows them.
EMAIL = "Jane.Doe@Example.com"
PHONE = "+84 90 123 4567"  # the WhatsApp number (wa_id), kept as the customer's phone
PAGE_ID = "1501234567890123"  # the business's Facebook Page (Messenger webhook recipient.id)
PSID = "6710987654321098"  # page-scoped user id (Messenger webhook sender.id)
WABA_ID = "102290129340398"  # WhatsApp Business Account (Cloud API webhook entry[].id)
CTWA_CLID = "ARAkLkA8rmlFeiCktEJQ-0xZ_ab"  # messages[].referral.ctwa_clid (case-sensitive)
IG_ACCOUNT_ID = "17841400000000001"  # the business's Instagram account (recipient.id)
IG_SID = "6234567890123456"  # Instagram-scoped user id (sender.id)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


EM_HASH = sha256("jane.doe@example.com")
PH_HASH = sha256("84901234567")

# channel → the ids of a complete event (each variant the reference allows)
CHANNELS: dict[str, tuple[str, dict[str, str]]] = {
    "whatsapp-waba": (
        "whatsapp",
        {"whatsapp_business_account_id": WABA_ID, "ctwa_clid": CTWA_CLID},
    ),
    "whatsapp-page": ("whatsapp", {"page_id": PAGE_ID, "ctwa_clid": CTWA_CLID}),
    "messenger": ("messenger", {"page_id": PAGE_ID, "page_scoped_user_id": PSID}),
    "instagram-ig_account_id": ("instagram", {"ig_account_id": IG_ACCOUNT_ID, "ig_sid": IG_SID}),
    "instagram-business-account": (
        "instagram",
        {"instagram_business_account_id": IG_ACCOUNT_ID, "ig_sid": IG_SID},
    ),
}


def chat_sale(
    channel: str | None,
    ids: dict[str, Any],
    event_id: str = "CHAT-1001",
    now: float | None = None,
) -> dict[str, Any]:
    """A Purchase closed in a chat two minutes before ``now``, as a POS sends it."""
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": int(time.time() if now is None else now) - 120,
        "event_id": event_id,
        "action_source": "business_messaging",
        "user_data": {"em": EMAIL, "ph": PHONE, **ids},
        "custom_data": {"currency": "VND", "value": 350000, "order_id": event_id},
    }
    if channel is not None:
        event["messaging_channel"] = channel
    return event


# a gateway that delivers to its own mounted sandbox ----------------------------------------


async def _setup(sqlite_url: str, key_hash: str, key_id: str) -> None:
    store = SQLiteStore(sqlite_url)
    await store.open()
    now = time.time()
    try:
        await store.add_dataset(DATASET, name="Chat shop", default_country="VN", now=now)
        await store.add_key(DATASET, key_id=key_id, key_hash=key_hash, label="pos", now=now)
        await store.add_destination(
            DATASET,
            name="meta-sandbox",
            kind="meta",
            options={"pixel_id": DATASET, "graph_url": "sandbox"},
            secrets={"access_token": Secret("sandbox-token")},
            now=now,
        )
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def delivering(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The real app, its worker running, delivering to the sandbox mounted in the same app
    (as `signalyard serve` does), all in-process."""
    transport = httpx.ASGITransport(app=Starlette())  # pointed at the gateway below
    settings = Settings(
        database_url=sqlite_url, sandbox=True, delivery=DeliverySettings(poll_seconds=0.05)
    )
    async with httpx.AsyncClient(transport=transport) as worker_client:
        app = create_app(
            settings,
            SQLiteStore(sqlite_url),
            clock=SystemClock(),
            http_client=worker_client,
            run_worker=True,
        )
        transport.app = app
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gw"
            ) as client,
        ):
            yield client


async def received(client: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    """The sandbox's recorded events, once it has ``count`` of them (oldest first)."""
    deadline = time.monotonic() + 10
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        events = (await client.get(f"{SANDBOX}/events")).json()["events"]
        if len(events) >= count:
            break
        await anyio.sleep(0.05)
    assert len(events) == count, events
    return list(reversed(events))


async def assert_sandbox_accepted_everything(client: httpx.AsyncClient) -> None:
    requests = (await client.get(f"{SANDBOX}/requests")).json()["requests"]
    assert requests and all(r["status"] == 200 for r in requests), requests
    totals = (await client.get(f"{SANDBOX}/summary")).json()["totals"]
    assert totals["rejected"] == 0, totals


def assert_plaintext_ids_and_hashed_pii(
    sent: dict[str, Any], channel: str, ids: dict[str, str]
) -> None:
    assert sent["action_source"] == "business_messaging"
    assert sent["messaging_channel"] == channel
    user_data = sent["user_data"]
    for key, value in ids.items():
        assert user_data[key] == value, key  # as the POS sent it: not hashed, not lowercased
    assert user_data["em"] == [EM_HASH]
    assert user_data["ph"] == [PH_HASH]
    assert set(user_data) == {"em", "ph", *ids}


@pytest.fixture
def pos_key(sqlite_url: str) -> str:
    key = new_key()
    asyncio.run(_setup(sqlite_url, key.key_hash, key.id))
    return key.secret


# the API, per channel ----------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("variant", sorted(CHANNELS))
async def test_a_chat_sale_reaches_the_sandbox(variant: str, sqlite_url: str, pos_key: str) -> None:
    channel, ids = CHANNELS[variant]
    event = chat_sale(channel, ids)
    async with delivering(sqlite_url) as client:
        r = await client.post(
            f"/v26.0/{DATASET}/events", params={"access_token": pos_key}, json={"data": [event]}
        )
        assert r.status_code == 200, r.text
        assert r.json()["events_received"] == 1
        (got,) = await received(client, 1)
        await assert_sandbox_accepted_everything(client)
    assert got["dataset_id"] == DATASET
    assert got["event_id"] == "CHAT-1001"
    assert got["action_source"] == "business_messaging"
    assert not [d for d in got["diagnostics"] if "ctwa" in str(d)], got["diagnostics"]
    sent = got["event"]
    assert_plaintext_ids_and_hashed_pii(sent, channel, ids)
    assert sent["custom_data"] == {"currency": "VND", "value": 350000.0, "order_id": "CHAT-1001"}
    text = orjson.dumps(got).decode()
    assert EMAIL.lower() not in text.lower() and "901234567" not in text.replace(PH_HASH, "")


@pytest.mark.anyio
async def test_numeric_ids_and_every_channel_in_one_request(sqlite_url: str, pos_key: str) -> None:
    """A POS that keeps ids as numbers (JSON integers) and sends a day's chat sales together;
    a re-send of the same request is deduplicated by event id and not delivered again."""
    events = [
        chat_sale(channel, ids, event_id=f"CHAT-{i}")
        for i, (channel, ids) in enumerate(CHANNELS.values())
    ]
    events[2]["user_data"]["page_id"] = int(PAGE_ID)
    events[2]["user_data"]["page_scoped_user_id"] = int(PSID)
    async with delivering(sqlite_url) as client:
        for attempt in range(2):
            r = await client.post(
                f"/v26.0/{DATASET}/events",
                params={"access_token": pos_key},
                json={"data": events},
            )
            assert r.status_code == 200, r.text
            assert r.json()["events_received"] == len(events)
            if attempt:
                assert r.json()["messages"] == [
                    "5 event(s) already received within 48 hours (same event_name and event_id):"
                    " not stored again"
                ]
        got = await received(client, len(events))
        await assert_sandbox_accepted_everything(client)
        await anyio.sleep(0.3)  # time for a second (wrong) delivery
        assert len((await client.get(f"{SANDBOX}/events")).json()["events"]) == len(events)
    assert {e["event_id"] for e in got} == {f"CHAT-{i}" for i in range(len(events))}
    messenger = next(e for e in got if e["event_id"] == "CHAT-2")["event"]
    assert messenger["user_data"]["page_id"] == int(PAGE_ID)
    assert messenger["user_data"]["page_scoped_user_id"] == int(PSID)


# the API: what is refused, per channel -------------------------------------------------------

MISSING = [
    # (case, messaging_channel, ids, the field named, Meta's subcode)
    ("whatsapp without ctwa_clid", "whatsapp", {"whatsapp_business_account_id": WABA_ID},
     "user_data.ctwa_clid", None),
    ("whatsapp without page or waba", "whatsapp", {"ctwa_clid": CTWA_CLID},
     "user_data.whatsapp_business_account_id", 2804116),
    ("whatsapp with an empty waba", "whatsapp",
     {"whatsapp_business_account_id": "", "ctwa_clid": CTWA_CLID},
     "user_data.whatsapp_business_account_id", 2804116),
    ("messenger without page_id", "messenger", {"page_scoped_user_id": PSID},
     "user_data.page_id", None),
    ("messenger without psid", "messenger", {"page_id": PAGE_ID},
     "user_data.page_scoped_user_id", None),
    ("instagram without ig_sid", "instagram", {"ig_account_id": IG_ACCOUNT_ID},
     "user_data.ig_sid", None),
    ("instagram without account", "instagram", {"ig_sid": IG_SID},
     "user_data.instagram_business_account_id", None),
    ("no channel", None, {"page_id": PAGE_ID, "page_scoped_user_id": PSID},
     "messaging_channel", None),
    ("an unknown channel", "sms", {"page_id": PAGE_ID, "page_scoped_user_id": PSID},
     "messaging_channel", None),
    ("a channel in capitals", "WhatsApp", CHANNELS["whatsapp-waba"][1],
     "messaging_channel", None),
]  # fmt: skip


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("channel", "ids", "field", "subcode"),
    [case[1:] for case in MISSING],
    ids=[case[0] for case in MISSING],
)
async def test_a_missing_channel_id_is_a_400_naming_it(
    gateway: Gateway, channel: str | None, ids: dict[str, str], field: str, subcode: int | None
) -> None:
    now = gateway.clock.now()
    good = chat_sale("messenger", CHANNELS["messenger"][1], event_id="CHAT-OK", now=now)
    bad = chat_sale(channel, ids, event_id="CHAT-BAD", now=now)
    r = await gateway.post_json([good, bad])
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == 100
    assert f"data[1].{field}" in error["message"], error
    if subcode is not None:
        assert error["error_subcode"] == subcode
    if field.startswith("user_data."):
        assert channel is not None and f"business_messaging on {channel}" in error["message"]
    assert EMAIL.lower() not in r.text.lower() and "901234567" not in r.text
    assert gateway.stored() == []  # all or nothing: the valid sale is not stored either


@pytest.mark.anyio
async def test_business_messaging_needs_no_other_customer_data(gateway: Gateway) -> None:
    """The channel ids identify the customer: no em/ph needed (Meta's baseline rule does not
    apply), and Signalyard adds nothing."""
    event = chat_sale("messenger", CHANNELS["messenger"][1], now=gateway.clock.now())
    event["user_data"] = dict(CHANNELS["messenger"][1])
    r = await gateway.post_json([event])
    assert r.status_code == 200, r.text
    (row,) = gateway.stored()
    assert row["payload"]["user_data"] == {"page_id": PAGE_ID, "page_scoped_user_id": PSID}
    assert row["payload"]["messaging_channel"] == "messenger"


BLANK = [
    ("messenger psid", "messenger", {"page_id": PAGE_ID, "page_scoped_user_id": "   "},
     "user_data.page_scoped_user_id"),
    ("whatsapp ctwa_clid", "whatsapp",
     {"whatsapp_business_account_id": WABA_ID, "ctwa_clid": " "},
     "user_data.ctwa_clid"),
    ("instagram account", "instagram", {"ig_account_id": "\t", "ig_sid": IG_SID},
     "user_data.instagram_business_account_id"),
]  # fmt: skip


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("channel", "ids", "field"), [c[1:] for c in BLANK], ids=[c[0] for c in BLANK]
)
async def test_a_blank_channel_id_is_refused_like_a_missing_one(
    gateway: Gateway, channel: str, ids: dict[str, str], field: str
) -> None:
    # the same event with the id present is accepted: only the blank makes the difference
    now = gateway.clock.now()
    ok = chat_sale(channel, CHANNELS[channel_ok(channel)][1], event_id="OK", now=now)
    assert (await gateway.post_json([ok])).status_code == 200
    r = await gateway.post_json([chat_sale(channel, ids, now=now)])
    assert r.status_code == 400, (r.text, gateway.stored())
    assert f"data[0].{field}" in r.json()["error"]["message"]
    assert [row["event_id"] for row in gateway.stored()] == ["OK"]


def channel_ok(channel: str) -> str:
    return {"whatsapp": "whatsapp-waba", "instagram": "instagram-ig_account_id"}.get(
        channel, channel
    )


@pytest.mark.anyio
async def test_the_sandbox_stands_behind_the_same_rules() -> None:
    """Sent straight to the sandbox (as Meta would get it from another client), an event
    missing its channel ids is refused there too: Signalyard's check is not stricter on the
    ids Meta requires."""
    cases = [
        ("messenger", {"page_id": PAGE_ID}, "[user_data][page_scoped_user_id]"),
        ("instagram", {"ig_account_id": IG_ACCOUNT_ID}, "[user_data][ig_sid]"),
        ("whatsapp", {"ctwa_clid": CTWA_CLID}, "whatsapp_business_account_id"),
    ]
    async with sandbox_only() as sandbox:
        for channel, ids, field in cases:
            event = chat_sale(channel, ids)
            event["user_data"] = {"em": [EM_HASH], **ids}
            r = await sandbox.post(
                f"/v26.0/{DATASET}/events",
                params={"access_token": "sandbox-token"},
                json={"data": [event]},
            )
            assert r.status_code == 400, (channel, r.text)
            assert field in r.text, (channel, r.text)


@contextlib.asynccontextmanager
async def sandbox_only() -> AsyncIterator[httpx.AsyncClient]:
    app = create_sandbox_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        yield client


# the import ---------------------------------------------------------------------------------

HEADER = [
    "order_id",
    "sold_at",
    "total",
    "currency",
    "messaging_channel",
    "page_id",
    "psid",
    "waba_id",
    "ctwa_clid",
    "ig_account_id",
    "ig_sid",
    "phone",
]


def chat_orders(path: Path, sold_at: str) -> Path:
    """A POS export of closed chat orders, as in docs/business-messaging.md."""
    rows = [
        ["WA-1001", sold_at, "350000", "VND", "whatsapp", "", "", WABA_ID, CTWA_CLID, "", "",
         "84901234567"],
        ["MS-1002", sold_at, "120000", "VND", "messenger", PAGE_ID, PSID, "", "", "", "", ""],
        ["IG-1003", sold_at, "99000", "VND", "instagram", "", "", "", "", IG_ACCOUNT_ID, IG_SID,
         ""],
        # line 5: a WhatsApp chat that did not start from an ad: no ctwa_clid
        ["WA-1004", sold_at, "50000", "VND", "whatsapp", "", "", WABA_ID, "", "", "",
         "+84 90 765 4321"],
        # line 6: a Messenger order whose PSID the POS lost
        ["MS-1005", sold_at, "75000", "VND", "messenger", PAGE_ID, "", "", "", "", "", ""],
    ]  # fmt: skip
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


class Cli:
    def __init__(self, url: str) -> None:
        self.runner = CliRunner(env={"SIGNALYARD_DATABASE_URL": url})

    def __call__(self, *args: str, input: str | None = None, code: int = 0) -> Result:
        result = self.runner.invoke(main, list(args), input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"{args}: {result.output}") from result.exception
        assert result.exit_code == code, (args, result.exit_code, result.output)
        return result


@pytest.fixture
def cli(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    for name in list(os.environ):
        if name.startswith("SIGNALYARD_"):
            monkeypatch.delenv(name)
    cli = Cli(sqlite_url)
    cli("datasets", "add", DATASET, "--name", "Chat shop", "--default-country", "VN")
    cli(
        "destinations",
        "add",
        DATASET,
        "meta-sandbox",
        "--option",
        f"pixel_id={DATASET}",
        "--option",
        "graph_url=sandbox",
        "--token-stdin",
        input="sandbox-token\n",
    )
    yield cli


def stored_payloads(sqlite_url: str) -> list[dict[str, Any]]:
    path = sqlite_url.removeprefix("sqlite:///")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT payload FROM events ORDER BY pk").fetchall()
    finally:
        conn.close()
    return [orjson.loads(r[0]) for r in rows]


def import_chat_orders(cli: Cli, path: Path, report: Path, code: int = 3) -> Result:
    return cli(
        "import",
        str(path),
        "--dataset",
        DATASET,
        "--action-source",
        "business_messaging",
        "--map",
        "sold_at=event_time",
        "--report",
        str(report),
        "--quiet",
        code=code,
    )


def test_an_export_of_chat_orders(cli: Cli, sqlite_url: str, tmp_path: Path) -> None:
    """The CSV recipe: every column mapped by its name (but sold_at), one error per row missing
    its channel's id with its line number, the rest stored as the channels need them and
    delivered to the sandbox; a second run of the export sends nothing again."""
    sold_at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 3600))
    path = chat_orders(tmp_path / "chat-orders.csv", sold_at)
    report = tmp_path / "errors.csv"
    result = import_chat_orders(cli, path, report)
    assert "5 rows read, 3 imported, 0 duplicates (already imported), 2 failed" in result.stdout
    with open(report, newline="", encoding="utf-8") as fh:
        errors = [r for r in csv.DictReader(fh) if r["level"] == "error"]
    assert [(e["line"], e["column"], e["field"]) for e in errors] == [
        ("5", "ctwa_clid", "user_data.ctwa_clid"),
        ("6", "psid", "user_data.page_scoped_user_id"),
    ]
    assert errors[0]["rule"] == "is required for business_messaging on whatsapp"
    assert errors[1]["rule"] == "is required for business_messaging on messenger"

    payloads = {p["custom_data"]["order_id"]: p for p in stored_payloads(sqlite_url)}
    assert sorted(payloads) == ["IG-1003", "MS-1002", "WA-1001"]
    for p in payloads.values():
        assert p["event_name"] == "Purchase"
        assert p["action_source"] == "business_messaging"
        assert p["custom_data"]["currency"] == "VND"
        assert len(p["event_id"]) == 32  # deterministic, from the dataset and the order id
    whatsapp = payloads["WA-1001"]
    assert whatsapp["messaging_channel"] == "whatsapp"
    assert whatsapp["user_data"] == {
        "whatsapp_business_account_id": WABA_ID,
        "ctwa_clid": CTWA_CLID,
        "ph": [PH_HASH],  # the wa_id (no "+") read as an international number
    }
    assert whatsapp["custom_data"]["value"] == 350000.0
    assert payloads["MS-1002"]["messaging_channel"] == "messenger"
    assert payloads["MS-1002"]["user_data"] == {"page_id": PAGE_ID, "page_scoped_user_id": PSID}
    assert payloads["IG-1003"]["messaging_channel"] == "instagram"
    assert payloads["IG-1003"]["user_data"] == {"ig_account_id": IG_ACCOUNT_ID, "ig_sid": IG_SID}

    # The same export again: nothing read, nothing sent; --restart: every row a duplicate.
    again = import_chat_orders(cli, path, tmp_path / "again.csv", code=0)
    assert "was already imported" in again.stdout
    restarted = cli(
        "import", str(path), "--dataset", DATASET, "--action-source", "business_messaging",
        "--map", "sold_at=event_time", "--restart", "--quiet", code=3,
    )  # fmt: skip
    assert "0 imported, 3 duplicates (already imported), 2 failed" in restarted.stdout
    assert len(stored_payloads(sqlite_url)) == 3

    async def deliver() -> list[dict[str, Any]]:
        async with delivering(sqlite_url) as client:
            got = await received(client, 3)
            await assert_sandbox_accepted_everything(client)
            return got

    delivered = {e["event"]["custom_data"]["order_id"]: e["event"] for e in asyncio.run(deliver())}
    assert delivered.keys() == payloads.keys()
    for order_id, sent in delivered.items():
        assert sent["user_data"] == payloads[order_id]["user_data"]
        assert sent["messaging_channel"] == payloads[order_id]["messaging_channel"]
        assert sent["event_id"] == payloads[order_id]["event_id"]


def test_an_export_carries_the_chat_s_ad_referral(
    cli: Cli, sqlite_url: str, tmp_path: Path
) -> None:
    """A referral_ad_id column (the click-to-Messenger ad that opened the chat) maps by its
    name to click_ids.referral_ad_id: kept with the event for attribution, never sent."""
    sold_at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 3600))
    path = tmp_path / "referrals.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["order_id", "sold_at", "total", "currency", "messaging_channel", "page_id", "psid",
             "referral_ad_id"]
        )  # fmt: skip
        writer.writerow(
            ["MS-2001", sold_at, "120000", "VND", "messenger", PAGE_ID, PSID, "6045246247433"]
        )
    result = import_chat_orders(cli, path, tmp_path / "errors.csv", code=0)
    assert "1 rows read, 1 imported" in result.stdout or "1 row read, 1 imported" in result.stdout
    [payload] = stored_payloads(sqlite_url)
    assert payload["_click_ids"] == {"referral_ad_id": "6045246247433"}
    assert "click_ids" not in payload and "referral_ad_id" not in payload["user_data"]
