"""Identity variants through the real app: made only for datasets whose destinations need
them, stored with the event (``_identity``) without any plaintext, and the answer says which
destinations cannot use a value that arrived hashed. Expected hashes: SHA-256 of the strings
the platforms' documented rules give (see tests/transforms/test_identity.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest

from signalyard.secret import Secret
from signalyard.sinks import REGISTRY
from signalyard.sinks.meta.payload import build_body
from signalyard.sources.ingest import IDENTITY_TTL, Ingestor
from tests.sources.conftest import (
    DATASET,
    OTHER_DATASET,
    PLAINTEXT,
    Gateway,
    GatewayFactory,
    purchase,
    sha256,
)

pytestmark = pytest.mark.anyio
ALL = frozenset({"ph.e164", "em.gmail"})


@pytest.fixture
def variants_declared(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registered kind declares every variant (as Google's and TikTok's specs will)."""
    monkeypatch.setitem(REGISTRY, "meta", dataclasses.replace(REGISTRY["meta"], identity=ALL))


@pytest.fixture
def no_variants_declared(monkeypatch: pytest.MonkeyPatch) -> None:
    """No registered kind declares a variant, and every kind takes events of the same age
    (as when only Meta is registered)."""
    for kind, spec in list(REGISTRY.items()):
        monkeypatch.setitem(
            REGISTRY,
            kind,
            dataclasses.replace(spec, identity=frozenset(), max_age_seconds=7 * 86400),
        )


async def add_destination(gateway: Gateway, name: str, dataset: str = DATASET) -> None:
    await gateway.store.add_destination(
        dataset,
        name=name,
        kind="meta",
        options={"pixel_id": dataset, "graph_url": "sandbox"},
        secrets={"access_token": Secret("sandbox-token")},
        now=gateway.clock.now(),
    )


def event(gateway: Gateway, event_id: str, **user_data: Any) -> dict[str, Any]:
    ev = purchase(gateway.clock.now(), event_id=event_id)
    ev["user_data"].update(user_data)
    return ev


@pytest.mark.usefixtures("variants_declared")
async def test_variants_are_stored_without_plaintext_and_hashed_input_is_reported(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    await add_destination(gateway, "needs-variants")
    hashed_phone = sha256("14155550100")
    response = await gateway.post_json(
        [
            event(gateway, "order-1", em=["Jane.Doe+shop@GMail.com"], ph=["(650) 555-1212"]),
            event(gateway, "order-2", ph=[hashed_phone]),
        ]
    )
    assert response.status_code == 200, response.text
    body = response.json()
    rows = gateway.stored()
    first, second = (row["payload"] for row in rows)

    assert first["user_data"]["ph"] == [sha256("16505551212")]
    assert first["user_data"]["em"] == [sha256("jane.doe+shop@gmail.com")]
    assert first["_identity"] == {
        "em.gmail": {sha256("jane.doe+shop@gmail.com"): sha256("janedoe@gmail.com")},
        "ph.e164": {sha256("16505551212"): sha256("+16505551212")},
    }
    assert second["_identity"]["ph.e164"] == {hashed_phone: None}

    messages = body["messages"]
    about = [m for m in messages if "ph.e164" in m]
    assert len(about) == 1
    assert about[0].startswith("data[1].user_data.ph: 1 value(s) arrived hashed, not sent to")
    assert "needs-variants" in about[0]
    assert not any(m.startswith("data[0].") and "e164" in m for m in messages)

    sent = orjson.loads(
        build_body(
            [first],
            access_token="t",
            appsecret_proof=None,
            test_event_code=None,
            partner_agent=None,
        )
    )
    assert "_identity" not in sent["data"][0]

    raw = gateway.raw_database_bytes()
    for text in (*PLAINTEXT, "Jane.Doe+shop", "janedoe@gmail.com", "jane.doe+shop@gmail.com"):
        assert text.encode() not in raw
        assert text not in response.text


@pytest.mark.usefixtures("variants_declared")
async def test_a_dataset_without_such_a_destination_gets_none(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    await add_destination(gateway, "needs-variants", dataset=OTHER_DATASET)
    response = await gateway.post_json([event(gateway, "order-1", ph=[sha256("1")])])
    assert response.status_code == 200, response.text
    assert "_identity" not in gateway.stored()[0]["payload"]
    assert not any("arrived hashed" in m for m in response.json()["messages"])


@pytest.mark.usefixtures("variants_declared")
async def test_a_destination_added_later_is_seen_within_the_ttl(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    assert (await gateway.post_json([event(gateway, "order-1")])).status_code == 200
    await add_destination(gateway, "needs-variants")
    gateway.clock.advance(IDENTITY_TTL + 0.1)
    assert (await gateway.post_json([event(gateway, "order-2")])).status_code == 200
    first, second = (row["payload"] for row in gateway.stored())
    assert "_identity" not in first
    assert set(second["_identity"]) == ALL


async def test_with_no_kind_needing_variants_nothing_is_made_or_looked_up(
    no_variants_declared: None, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_destination(gateway, "meta-only")

    async def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("destinations looked up at ingest")

    monkeypatch.setattr(gateway.store, "list_destinations", refuse)
    response = await gateway.post_json([event(gateway, "order-1", ph=[sha256("1")])])
    assert response.status_code == 200, response.text
    payload = gateway.stored()[0]["payload"]
    assert "_identity" not in payload
    assert not any("arrived hashed" in m for m in response.json()["messages"])


def test_unknown_variant_names_are_refused_when_the_ingestor_is_built() -> None:
    with pytest.raises(ValueError, match="unknown identity variant"):
        Ingestor(
            None,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            default_country=None,
            max_future_seconds=600,
            identity_by_kind={"x": frozenset({"ph.nope"})},
        )


def test_every_registered_kind_declares_known_variants() -> None:
    from signalyard.transforms.identity import check_variants

    for spec in REGISTRY.values():
        assert check_variants(spec.identity) == spec.identity


async def test_a_file_import_makes_the_variants_its_dataset_needs(
    sqlite_store: Any, tmp_path: Any
) -> None:
    from signalyard.clock import FrozenClock
    from signalyard.sources.mapping import MappingSpec
    from signalyard.sources.offline import DEFAULTS, ImportOptions, Problem, run_import

    now = 1_800_000_000
    await sqlite_store.add_dataset("777", name="Store", default_country="US", now=now)
    destination = await sqlite_store.add_destination(
        "777",
        name="needs-variants",
        kind="x-kind",
        options={},
        secrets={"access_token": Secret("t")},
        now=now,
    )
    path = tmp_path / "orders.csv"
    path.write_text(
        "email,phone,order_total,currency,order_id,created\n"
        f"Jo.Hn@gmail.com,(650) 555-1212,10.5,USD,o-1,{now - 60}\n"
        f"a@b.com,{sha256('16505550000')},3,USD,o-2,{now - 60}\n",
        encoding="utf-8",
    )
    problems: list[Problem] = []
    await run_import(
        sqlite_store,
        path,
        ImportOptions(dataset_id="777", spec=MappingSpec(constants=DEFAULTS)),
        clock=FrozenClock(now),
        default_country="US",
        on_problems=problems.extend,
        identity_by_kind={"x-kind": ALL},
    )
    events = await sqlite_store.claim(
        destination.id, owner="t", limit=10, now=now + 1, lease_seconds=30
    )
    payloads = sorted((e.payload for e in events), key=lambda p: p["event_id"])
    assert payloads[0]["_identity"] == {
        "em.gmail": {sha256("jo.hn@gmail.com"): sha256("john@gmail.com")},
        "ph.e164": {sha256("16505551212"): sha256("+16505551212")},
    }
    assert payloads[1]["_identity"]["ph.e164"] == {sha256("16505550000"): None}
    (warning,) = [p for p in problems if "ph.e164" in p.rule]
    assert (warning.line, warning.level, warning.field) == (3, "warning", "user_data.ph")
    assert "needs-variants" in warning.rule


@pytest.mark.usefixtures("variants_declared")
async def test_a_richer_duplicate_brings_the_variants_of_the_values_it_adds(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    await add_destination(gateway, "needs-variants")
    first = event(gateway, "order-1", em=["jo.hn@gmail.com"])
    del first["user_data"]["ph"]
    assert (await gateway.post_json([first])).status_code == 200
    richer = event(gateway, "order-1", em=["ab@c.com"], ph=["(650) 555-1212"])
    response = await gateway.post_json([richer])
    assert response.status_code == 200, response.text
    (row,) = gateway.stored()
    payload = row["payload"]
    assert payload["user_data"]["ph"] == [sha256("16505551212")]
    assert payload["_identity"] == {
        "em.gmail": {sha256("jo.hn@gmail.com"): sha256("john@gmail.com")},
        "ph.e164": {sha256("16505551212"): sha256("+16505551212")},
    }


def test_merge_identity_never_reads_uncomputed_values_as_the_base() -> None:
    from signalyard.transforms.identity import merge_identity, variant_hashes

    user_data = {"em": ["a", "b"], "ph": ["p"]}
    extra = {"em.gmail": {"b": "B"}, "ph.e164": {"p": "P", "gone": "G"}}
    # The stored copy had em (no variant computed) and no ph.
    merged = merge_identity(None, ["em"], extra, user_data)
    assert merged == {"ph.e164": {"p": "P"}}
    payload = {"user_data": user_data, "_identity": merged}
    assert variant_hashes(payload, "em.gmail") == ([], 2)
    # The stored copy had the variant: the duplicate's entries for its new values join.
    merged = merge_identity({"em.gmail": {}}, ["em"], extra, user_data)
    assert merged["em.gmail"] == {"b": "B"}
    assert variant_hashes({"user_data": user_data, "_identity": merged}, "em.gmail") == (
        ["a", "B"],
        0,
    )


def test_a_page_is_not_told_the_destinations_names() -> None:
    from signalyard.sources.ingest import IdentityPlan, identity_warnings

    plan = IdentityPlan(("ph.e164",), {"ph.e164": ("google-ads", "tiktok")})
    identity = {"ph.e164": {"a" * 64: None}}
    (named,) = identity_warnings(identity, plan)
    assert named.startswith("user_data.ph: 1 value(s) arrived hashed, not sent to google-ads, ")
    (anonymous,) = identity_warnings(identity, plan, name_destinations=False)
    assert "google-ads" not in anonymous
    assert "a destination of this dataset" in anonymous
    assert "a" * 64 not in named + anonymous
