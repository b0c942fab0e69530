"""Platform claims: CSV exports parsed (the platforms' column names, bad values named by line
and column), kept on both stores, set beside our credit in the report (true ROAS against the
platform's own, unverified claims, inflation), and the ``import-claims`` command."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from click.testing import CliRunner

from signalyard.attribution.claims import Claim, load_claims, parse_claims, save_claims
from signalyard.attribution.report import build_report
from signalyard.cli import main
from signalyard.errors import InputError
from signalyard.store.base import Store
from tests.attribution.test_engine import ad_click, attributor, landing, order, send
from tests.conftest import in_thread
from tests.sources.conftest import DATASET, Gateway

pytestmark = pytest.mark.anyio

META_EXPORT = (
    (
        "Reporting starts,Reporting ends,Campaign name,Results,Purchases conversion value,"
        "Amount spent (EUR)\n"
    )
    + """2027-01-15,2027-01-15,Winter sale,3,240.50,100.00
2027-01-15,2027-01-15,Winter sale,1,60,20.5
2027-01-16,2027-01-16,Retargeting,2,"1,150.00",40
"""
)


def lines(text: str) -> io.StringIO:
    return io.StringIO(text)


def test_a_meta_export_is_read_and_same_day_rows_added_up() -> None:
    claims = parse_claims(lines(META_EXPORT), platform="meta", currency="EUR")
    assert claims == [
        Claim(
            "meta", "2027-01-15", "Winter sale", "EUR", 4.0, Decimal("300.50"), Decimal("120.50")
        ),
        Claim("meta", "2027-01-16", "Retargeting", "EUR", 2.0, Decimal("1150.00"), Decimal("40")),
    ]


def test_a_currency_column_and_google_names() -> None:
    text = "Day,Campaign,Conversions,Conv. value,Cost,Currency code\n2027-01-15,,2.5,99.9,12,usd\n"
    [claim] = parse_claims(lines(text), platform="google")
    assert claim == Claim("google", "2027-01-15", "", "USD", 2.5, Decimal("99.9"), Decimal("12"))


@pytest.mark.parametrize(
    ("text", "field", "rule"),
    [
        ("", "file", "is empty"),
        ("date,conversions,value\n", "columns.spend", "is missing"),
        ("date,conversions,value,spend\n15/01/2027,1,2,3\n", "line 2.date", "YYYY-MM-DD"),
        ("date,conversions,value,spend\n2027-01-15,1,2,€3\n", "line 2.spend", "number"),
        ("date,conversions,value,spend\n2027-01-15,-1,2,3\n", "line 2.conversions", "between"),
        (
            "date,conversions,value,spend,currency\n2027-01-15,1,2,3,euro\n",
            "line 2.currency",
            "ISO",
        ),
    ],
)
def test_bad_files_name_the_line_and_column(text: str, field: str, rule: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_claims(lines(text), platform="meta", currency="EUR")
    assert caught.value.field == field and rule in caught.value.rule


def test_a_currency_is_needed() -> None:
    with pytest.raises(InputError) as caught:
        parse_claims(lines("date,conversions,value,spend\n2027-01-15,1,2,3\n"), platform="m")
    assert caught.value.field == "currency" and "neither" in caught.value.rule
    with pytest.raises(InputError):
        parse_claims(lines("date,conversions,value,spend\n"), platform="m", currency="euro")


async def test_claims_kept_and_replaced(backend_store: Store) -> None:
    store = backend_store
    await store.add_dataset("42", name="s", default_country=None, now=1.0)
    first = parse_claims(lines(META_EXPORT), platform="meta", currency="EUR")
    await save_claims(store, "42", first, source="export.csv", now=2.0)
    fixed = [Claim("meta", "2027-01-16", "Retargeting", "EUR", 1.0, Decimal("5"), Decimal("1"))]
    await save_claims(store, "42", fixed, source="export2.csv", now=3.0)
    assert await load_claims(store, "42") == [first[0], fixed[0]]
    assert await load_claims(store, "other") == []


async def _two_orders(gw: Gateway) -> Any:
    await ad_click(gw, "fbclid", "IwAR-c1", fbp="fb.1.1.C1", event_id="pv-c1")
    gw.clock.advance(3600)
    await send(gw, order(gw, "C-1", 100.0, fbp="fb.1.1.C1"), order(gw, "C-2", 50.0, fbp=None))
    return await attributor(gw).run(DATASET, profile="platform-default")


async def test_report_sets_claims_beside_credit(gateway: Gateway) -> None:
    gw = gateway
    run = await _two_orders(gw)
    day = run.attributions[0].order.created_at
    import datetime

    today = datetime.datetime.fromtimestamp(day, ZoneInfo("UTC")).date().isoformat()
    claims = [Claim("meta", today, "", "EUR", 2.0, Decimal("150.00"), Decimal("40.00"))]
    report = build_report(run, tz=ZoneInfo("UTC"), claims=claims)
    [meta] = [t for t in report.totals() if t.platform == "meta"]
    assert (meta.claimed, meta.eligible, meta.primary) == (2.0, 1, 1)
    assert meta.unverified == 1.0
    assert meta.true_roas == Decimal("2.50")  # 100.00 credited / 40 spent
    assert meta.claimed_roas == Decimal("3.75")  # 150.00 claimed / 40 spent
    assert report.claims["inflation_orders"] == 1.0  # 2 claimed / 2 actual orders
    assert report.claims["by_currency"]["EUR"]["inflation_value"] == "1.00"
    assert report.ok
    data = report.to_json()
    assert data["platforms"][0]["true_roas"] == "2.50"
    assert "true ROAS" in report.to_table()
    assert "claimed_roas" in report.to_csv().splitlines()[0]


async def test_import_claims_command(gateway: Gateway, tmp_path: Path) -> None:
    gw = gateway
    await _two_orders(gw)
    path = tmp_path / "meta.csv"
    path.write_text(META_EXPORT, encoding="utf-8")
    env = {"SIGNALYARD_DATABASE_URL": gw.settings.database_url}
    d = ["--dataset", DATASET]

    def invoke(*args: str) -> Any:
        return in_thread(lambda: CliRunner().invoke(main, list(args), env=env))

    out = invoke(
        "attribution", "import-claims", str(path), "--platform", "meta", "--currency", "EUR", *d
    )
    assert out.exit_code == 0, out.output
    assert "2 row(s) of meta claims over 2 day(s)" in out.output
    report = invoke("attribution", "report", "--format", "json", *d)
    data = orjson.loads(report.output)
    assert data["claims"]["claimed_conversions"] == 6.0
    bad = tmp_path / "bad.csv"
    bad.write_text("date,conversions,value,spend\nnope,1,2,3\n", encoding="utf-8")
    refused = invoke(
        "attribution", "import-claims", str(bad), "--platform", "meta", "--currency", "EUR", *d
    )
    assert refused.exit_code == 1 and "line 2.date" in refused.output
    unknown = invoke("attribution", "import-claims", str(path), "--platform", "ga4", *d)
    assert unknown.exit_code == 2


async def test_campaigns_meet_their_claims(gateway: Gateway) -> None:
    """A click's campaign is its landing's utm_campaign; the report sets each campaign's
    credit beside the claims imported for it."""
    gw = gateway
    url = "https://shop.example.com/?gclid=Cj0-w&utm_source=google&utm_campaign=Winter%20Sale"
    await send(gw, landing(gw, url, fbp="fb.1.1.W", clicks={"gclid": "Cj0-w"}, event_id="pv-w"))
    await ad_click(gw, "fbclid", "IwAR-plain", fbp="fb.1.1.P", event_id="pv-p")
    gw.clock.advance(3600)
    await send(gw, order(gw, "W-1", 90.0, fbp="fb.1.1.W"), order(gw, "P-1", 10.0, fbp="fb.1.1.P"))
    run = await attributor(gw).run(DATASET, profile="platform-default")
    import datetime

    day = datetime.datetime.fromtimestamp(gw.clock.now(), ZoneInfo("UTC")).date().isoformat()
    claims = [Claim("google", day, "Winter  Sale", "EUR", 3.0, Decimal("270"), Decimal("30"))]
    report = build_report(run, tz=ZoneInfo("UTC"), claims=claims)
    by_key = {(k.platform, k.campaign): k for k in report.campaigns}
    winter = by_key[("google", "winter sale")]
    assert (winter.primary, winter.primary_revenue, winter.claimed) == (1, Decimal("90.00"), 3.0)
    assert (winter.true_roas, winter.claimed_roas) == (Decimal("3.00"), Decimal("9.00"))
    plain = by_key[("meta", "")]
    assert (plain.primary, plain.has_claims) == (1, False)
    data = report.to_json()
    assert {c["campaign"] for c in data["campaigns"]} == {"winter sale", ""}
    assert "Per campaign" in report.to_table()
    assert any(
        line.startswith("campaign:google,winter sale") for line in report.to_csv().splitlines()
    )


def test_import_claims_refuses_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("date,conversions,value,spend\n2027-01-15,1,2,3 €\n".encode("cp1252"))
    out = CliRunner().invoke(
        main,
        ["attribution", "import-claims", str(path), "--platform", "meta", "--currency", "EUR"],
        env={"SIGNALYARD_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}"},
    )
    assert out.exit_code == 1 and "is not UTF-8 text" in out.output
    assert "Traceback" not in out.output
