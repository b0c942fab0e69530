"""The match-quality page per destination kind: one section per kind of the dataset's
destinations, each by its own platform's model and keys; none for a dataset without
destinations; no Meta score for a dataset that sends only to TikTok."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.insights import views
from signalyard.insights.recorder import StatsRecorder
from signalyard.secret import Secret
from signalyard.sinks import REGISTRY
from signalyard.sources.ingest import Ingestor
from signalyard.store.sqlite import SQLiteStore

from .conftest import DATASET, text_by_testid

pytestmark = pytest.mark.anyio

TIKTOK_ONLY = "777"
NOTHING = "888"
MODELS = {kind: spec.match_model for kind, spec in REGISTRY.items() if spec.match_model}


def _event(i: int, now: float) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_id": f"p-{i}",
        "event_time": int(now),
        "action_source": "website",
        "event_source_url": "https://shop.example.com/",
        "user_data": {
            "em": "buyer@example.org",
            "ph": "+1 650 555 0100",
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
            "fbp": "fb.1.1700000000000.222",
        },
        "custom_data": {"currency": "USD", "value": 42.0},
        # half the events come with TikTok's cookie and a TikTok click
        **(
            {"browser_ids": {"ttp": "ttp-cookie"}, "click_ids": {"ttclid": "E.C.P.x"}}
            if i % 2
            else {}
        ),
    }


async def _destination(store: SQLiteStore, dataset: str, kind: str, name: str, now: float) -> None:
    options: dict[str, Any] = (
        {"pixel_code": "CABC123DEF456GHI789J"} if kind == "tiktok" else {"pixel_id": dataset}
    )
    await store.add_destination(
        dataset,
        name=name,
        kind=kind,
        options=options,
        secrets={"access_token": Secret("token")},
        now=now,
    )


@pytest.fixture
async def kinds(store: SQLiteStore, clock: FrozenClock) -> None:
    """DATASET sends to Meta and TikTok, TIKTOK_ONLY to TikTok, NOTHING nowhere; each got the
    same four purchases."""
    now = clock.now()
    await _destination(store, DATASET, "meta", "meta-shop", now)
    await _destination(store, DATASET, "tiktok", "tiktok-shop", now)
    for dataset in (TIKTOK_ONLY, NOTHING):
        await store.add_dataset(dataset, name=f"Shop {dataset}", default_country="US", now=now)
    await _destination(store, TIKTOK_ONLY, "tiktok", "tiktok-only", now)
    recorder = StatsRecorder(store)
    ingestor = Ingestor(
        store,
        clock,
        default_country=None,
        max_future_seconds=600,
        recorder=recorder,
        identity_by_kind={kind: spec.identity for kind, spec in REGISTRY.items()},
    )
    for dataset_id in (DATASET, TIKTOK_ONLY, NOTHING):
        dataset = await store.get_dataset(dataset_id)
        assert dataset is not None
        await ingestor.ingest([_event(i, now) for i in range(4)], dataset, source="graph_api")
    await recorder.flush()


async def _html(client: httpx.AsyncClient, dataset: str) -> str:
    r = await client.get("/dashboard/quality", params={"dataset": dataset})
    assert r.status_code == 200, r.text
    return r.text


def _sections(html: str) -> dict[str, dict[str, str]]:
    """The data-testid texts of each kind's section, by its data-kind."""
    out = {}
    for chunk in html.split('<section class="quality-kind"')[1:]:
        kind = chunk.split('data-kind="', 1)[1].split('"', 1)[0]
        out[kind] = text_by_testid('<section class="quality-kind"' + chunk)
    return out


async def test_a_section_per_kind_with_its_own_keys(authed: httpx.AsyncClient, kinds: None) -> None:
    sections = _sections(await _html(authed, DATASET))
    assert list(sections) == ["meta", "tiktok"]
    meta, tiktok = sections["meta"], sections["tiktok"]
    assert meta["quality-title-meta"].startswith("Estimated Event Match Quality meta: meta-shop")
    assert "not Meta's score" in meta["quality-note-meta"]
    assert meta["coverage-Purchase-fbp"] == "100%"
    assert tiktok["quality-title-tiktok"] == ("Estimated TikTok match quality tiktok: tiktok-shop")
    assert "Meta" not in tiktok["quality-section-tiktok"]
    assert not any(k.endswith(("-fbp", "-fbc", "-address")) for k in tiktok)
    assert tiktok["coverage-Purchase-ttp"] == "50%"
    assert tiktok["coverage-Purchase-ttclid"] == "50%"
    # the phone counts for TikTok through its +E.164 hash, made at ingest from the plaintext
    assert tiktok["coverage-Purchase-ph.e164"] == "100%"
    # each kind scores the same events by its own model
    assert meta["score-Purchase"] != tiktok["score-Purchase"]


async def test_scores_are_the_views(
    authed: httpx.AsyncClient, kinds: None, store: SQLiteStore, clock: FrozenClock
) -> None:
    found = await views.match_quality(store, DATASET, now=clock.now(), days=7, models=MODELS)
    assert [(k.kind, k.destinations) for k in found.kinds] == [
        ("meta", ["meta-shop"]),
        ("tiktok", ["tiktok-shop"]),
    ]
    sections = _sections(await _html(authed, DATASET))
    for k in found.kinds:
        [row] = k.rows
        assert sections[k.kind][f"score-{row.event_name}"] == f"{row.score:.1f}"
        assert set(row.coverage) == set(k.model.keys)
        assert all(a.split(" ", 1)[0] in k.model.advice for a in row.advice)
    tiktok = found.kinds[1].rows[0]
    assert "fbp" not in tiktok.coverage
    assert any(a.startswith("ttp missing on 50% of Purchase events") for a in tiktok.advice)


async def test_tiktok_only_shows_no_meta_score(authed: httpx.AsyncClient, kinds: None) -> None:
    html = await _html(authed, TIKTOK_ONLY)
    sections = _sections(html)
    assert list(sections) == ["tiktok"]
    assert 'data-kind="meta"' not in html
    assert "Event Match Quality" not in html
    assert "Meta" not in html
    assert "fbp" not in html and "fbc" not in html
    ids = text_by_testid(html)
    assert ids["score-Purchase"] == sections["tiktok"]["score-Purchase"]


async def test_no_destination_no_score(authed: httpx.AsyncClient, kinds: None) -> None:
    html = await _html(authed, NOTHING)
    ids = text_by_testid(html)
    assert "Add a destination" in ids["quality-empty"]
    assert not _sections(html)
    assert "score-Purchase" not in ids
