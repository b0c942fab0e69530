"""Send journeys through a real gateway and check its attribution against their answers.

The gateway is the real app (:func:`signalyard.app.create_app`, its lifespan, its store) on a
database of its own, run in this process with a simulated clock: each step is sent when its
time comes (the clock moved to it), through the same HTTP API a shop's server uses, so the
events go through validation, normalization, hashing, the store and the click ledger exactly
as real ones do. Then attribution runs with the chosen settings, and every order's credit is
compared with its expected answer.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import orjson

from signalyard.attribution.checks import Check
from signalyard.attribution.engine import Run
from signalyard.attribution.model import DEFAULT_LENS, Attribution
from signalyard.attribution.report import build_report
from signalyard.clock import FrozenClock
from signalyard.secret import Secret
from signalyard.settings import Settings
from signalyard.simulate.steps import Expected, Identify, Journey, Purchase, Refund, Step, Visit
from signalyard.sources import webhook_store as ws
from signalyard.sources.auth import new_key
from signalyard.sources.extensions import CLICK_ID_KINDS
from signalyard.store.base import Store

__all__ = ["DATASET", "Outcome", "SimulationResult", "simulate"]

DATASET = "9990001"
"""The simulation's dataset."""
API_VERSION = "v26.0"
_KINDS = {k.lower(): k for k in CLICK_ID_KINDS}


@dataclass(frozen=True, slots=True)
class Outcome:
    order_id: str
    expected: Expected
    role: str
    platform: str | None
    channel: str | None
    reason: str
    assists: tuple[str, ...]
    net: Decimal | None = None

    @property
    def ok(self) -> bool:
        e = self.expected
        if e.role != self.role:
            return False
        if e.net is not None and self.net != Decimal(e.net):
            return False
        if e.role == "primary":
            return e.platform == self.platform and (
                not e.assists or tuple(sorted(e.assists)) == self.assists
            )
        if e.role == "fallback":
            return e.channel == self.channel
        return e.reason is None or e.reason == self.reason


@dataclass(slots=True)
class SimulationResult:
    outcomes: list[Outcome] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    digest: str = ""
    """SHA-256 of every order's credits (same seed and settings: the same digest)."""
    requests: int = 0
    events: int = 0
    run: Run | None = None

    @property
    def conserved(self) -> bool:
        return all(c.ok for c in self.checks)

    def accuracy(self) -> tuple[int, int]:
        """(right, judged) over the orders whose answer is the rule's with full observability
        (no ``reason_if_missed``)."""
        judged = [o for o in self.outcomes if not o.expected.reason_if_missed]
        return sum(o.ok for o in judged), len(judged)

    def misses(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


def _person_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _fbp(device: str, start: float) -> str:
    return f"fb.1.{int(start * 1000)}.{int(_person_hash(device), 16) % 10**10}"


def _clicks_of(url: str, at: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in parse_qsl(urlsplit(url).query, max_num_fields=50):
        kind = _KINDS.get(name.lower())
        if kind is not None and value:
            out[kind] = {"id": value, "at": int(at * 1000)}
    return out


class Shop:
    """The simulation's Shopify store: a webhook source of the dataset, and its deliveries
    signed as Shopify signs them."""

    SECRET = "shpss_simulation_0000000000000000"

    def __init__(self) -> None:
        self.path = f"/webhooks/shopify/{DATASET}"

    @classmethod
    async def connect(cls, store: Store, now: float) -> Shop:
        await ws.add_source(store, DATASET, "shopify", [Secret(cls.SECRET)], {}, now=now)
        return cls()

    async def send(
        self, client: httpx.AsyncClient, step: Purchase | Refund, start: float
    ) -> httpx.Response:
        when = _iso(step.at)
        if isinstance(step, Refund):
            topic = "refunds/create"
            payload: dict[str, Any] = {
                "id": int(
                    hashlib.sha256(f"{step.order_id}-{step.at}".encode()).hexdigest()[:12], 16
                ),
                "order_id": int(step.order_id),
                "created_at": when,
                "processed_at": when,
                "transactions": [
                    {
                        "kind": "refund",
                        "status": "success",
                        "amount": step.amount,
                        "currency": step.currency,
                    }
                ],
            }
        else:
            topic = "orders/paid"
            attributes = [{"name": "_fbp", "value": _fbp(step.device, start)}]
            attributes += [{"name": kind, "value": value} for kind, value in step.carried_clicks]
            payload = {
                "id": int(step.order_id),
                "financial_status": "paid",
                "currency": step.currency,
                "total_price": step.value,
                "created_at": when,
                "processed_at": when,
                "updated_at": when,
                "email": step.email,
                "note_attributes": attributes,
                "line_items": [],
                "refunds": [],
            }
        body = orjson.dumps(payload)
        signature = base64.b64encode(
            hmac.new(self.SECRET.encode(), body, hashlib.sha256).digest()
        ).decode()
        headers = {
            "content-type": "application/json",
            "x-shopify-topic": topic,
            "x-shopify-hmac-sha256": signature,
            "x-shopify-shop-domain": "simulation.myshopify.com",
            "x-shopify-api-version": "2026-01",
            "x-shopify-webhook-id": hashlib.sha256(body).hexdigest()[:32],
            "x-shopify-triggered-at": when,
        }
        return await client.post(self.path, content=body, headers=headers)


def _iso(at: float) -> str:
    return datetime.datetime.fromtimestamp(at, datetime.UTC).isoformat().replace("+00:00", "Z")


def _event(step: Step, index: str, start: float) -> dict[str, Any]:
    user: dict[str, Any] = {
        "fbp": _fbp(step.device, start),
        "client_ip_address": "198.51.100.7",
        "client_user_agent": "Mozilla/5.0 (simulated shopper)",
    }
    if isinstance(step, Visit):
        event: dict[str, Any] = {
            "event_name": "PageView",
            "event_time": int(step.at),
            "event_id": f"pv-{index}",
            "action_source": "website",
            "event_source_url": step.url,
            "user_data": user,
            "consent": step.consent,
        }
        if step.referrer:
            event["referrer_url"] = step.referrer
        clicks = _clicks_of(step.url, step.at)
        if clicks:
            event["click_ids"] = clicks
        return event
    if isinstance(step, Identify):
        user["em"] = step.email
        return {
            "event_name": "Lead",
            "event_time": int(step.at),
            "event_id": f"lead-{index}",
            "action_source": "website",
            "event_source_url": "https://shop.example.com/newsletter",
            "referrer_url": "https://shop.example.com/",
            "user_data": user,
            "consent": "granted",
        }
    assert isinstance(step, Purchase)
    if step.email:
        user["em"] = step.email
    event = {
        "event_name": "Purchase",
        "event_time": int(step.at),
        "event_id": f"order-{step.order_id}",
        "action_source": step.kind,
        "user_data": user,
        "custom_data": {
            "currency": step.currency,
            "value": str(Decimal(step.value)),
            "order_id": step.order_id,
        },
        "consent": "granted",
    }
    if step.kind == "website":
        event["event_source_url"] = "https://shop.example.com/thank-you"
    if step.carried_clicks:
        event["click_ids"] = dict(step.carried_clicks)
    return event


async def simulate(
    journeys: Sequence[Journey],
    *,
    database_url: str,
    start: float,
    profile: str = "platform-default",
    lens: str = DEFAULT_LENS,
    time_zone: str = "UTC",
) -> SimulationResult:
    """Send ``journeys`` (their steps in arrival order) to a gateway on ``database_url`` (a
    new, empty database), run attribution, and compare. ``start``: the simulated clock's
    start (no step may be earlier)."""
    from zoneinfo import ZoneInfo

    from signalyard.app import create_app
    from signalyard.runtime import make_attributor, make_store
    from signalyard.store import migrate

    clock = FrozenClock(start)
    settings = Settings(
        database_url=database_url, sandbox=False, worker=False, default_country="US"
    )
    migrate.upgrade(database_url)
    setup = make_store(settings)
    await setup.open()
    key = new_key()
    try:
        await setup.add_dataset(DATASET, name="simulation", default_country="US", now=start)
        await setup.add_key(DATASET, key_id=key.id, key_hash=key.key_hash, label="sim", now=start)
    finally:
        await setup.close()
    steps: list[tuple[float, int, str, Step]] = []
    for j, journey in enumerate(journeys):
        for i, step in enumerate(journey.steps):
            arrives = step.arrives_at if isinstance(step, Purchase) and step.arrives_at else step.at
            if step.at < start:
                raise ValueError(f"{journey.person}: a step at {step.at} is before the start")
            copies = step.copies if isinstance(step, Purchase) else 1
            for _ in range(copies):
                steps.append((arrives, j, f"{journey.person}-{i}", step))
    steps.sort(key=lambda s: (s[0], s[1]))
    result = SimulationResult()
    store = make_store(settings)
    app = create_app(settings, store, clock=clock, run_worker=False)
    path = f"/{API_VERSION}/{DATASET}/events"
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
        )
        shop: Shop | None = None
        for arrives, _, index, step in steps:
            if arrives > clock.now():
                clock.advance(arrives - clock.now())
            if isinstance(step, Refund) or (isinstance(step, Purchase) and step.via == "shopify"):
                if shop is None:
                    shop = await Shop.connect(store, clock.now())
                response = await shop.send(client, step, start)
            else:
                body = orjson.dumps({"data": [_event(step, index, start)]})
                response = await client.post(
                    path,
                    params={"access_token": key.secret},
                    content=body,
                    headers={"content-type": "application/json"},
                )
            if response.status_code != 200:
                raise RuntimeError(f"the gateway refused step {index}: {response.text}")
            result.requests += 1
            result.events += 1
        attributor = make_attributor(store, clock)
        run = await attributor.run(DATASET, profile=profile, lens=lens)
    result.run = run
    expected = {oid: e for journey in journeys for oid, e in journey.expected.items()}
    by_id = {a.order.order_id: a for a in run.attributions}
    for order_id, answer in sorted(expected.items()):
        found = by_id.get(order_id)
        result.outcomes.append(_outcome(order_id, answer, found))
    result.checks = build_report(run, tz=ZoneInfo(time_zone)).checks
    result.digest = digest(run.attributions)
    return result


def _outcome(order_id: str, expected: Expected, a: Attribution | None) -> Outcome:
    if a is None:
        return Outcome(order_id, expected, "missing", None, None, "order_not_found", ())
    main = next(c for c in a.credits if c.role in ("primary", "fallback", "unattributed"))
    assists = tuple(sorted(c.platform for c in a.credits if c.role == "assist" and c.platform))
    return Outcome(
        order_id,
        expected,
        main.role,
        main.platform,
        main.channel,
        main.reason,
        assists,
        a.order.net,
    )


def digest(attributions: Sequence[Attribution]) -> str:
    """Every order's credits, canonically encoded and hashed."""
    h = hashlib.sha256()
    for a in sorted(attributions, key=lambda a: a.order.order_id):
        for c in a.credits:
            h.update(
                orjson.dumps(
                    [
                        a.order.order_id,
                        c.role,
                        c.platform,
                        c.channel,
                        str(c.weight),
                        str(c.amount),
                        c.reason,
                        c.click.click_id if c.click else None,
                    ]
                )
            )
    return h.hexdigest()


def temporary_database(directory: Path) -> str:
    return f"sqlite:///{directory / 'simulation.db'}"
