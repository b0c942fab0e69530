"""Reports in one currency: exchange rates imported from a CSV (the ECB's history file or a
long one), a run and its claims converted at each day's rate with every check still exact,
and the CLI (``attribution import-rates``, ``attribution report --currency``)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from signalyard.attribution.claims import Claim, save_claims
from signalyard.attribution.convert import MissingRates, convert
from signalyard.attribution.rates import Rate, Rates, parse_rates
from signalyard.attribution.report import build_report
from signalyard.cli import main
from signalyard.errors import InputError
from tests.attribution.test_engine import ad_click, order, run, send
from tests.conftest import in_thread
from tests.sources.conftest import DATASET, Gateway

UTC = ZoneInfo("UTC")
ECB = """Date,USD,JPY,BGN,
2026-12-04,1.0843,161.2,N/A,
2026-12-03,1.0800,160.9,1.9558,
"""


def test_the_ecb_history_file_and_a_long_file_are_read() -> None:
    rates = parse_rates(ECB.splitlines(), base="EUR")
    assert Rate("USD", "2026-12-04", Decimal("1.0843")) in rates
    assert Rate("BGN", "2026-12-03", Decimal("1.9558")) in rates
    assert not [r for r in rates if r.currency == "BGN" and r.day == "2026-12-04"]  # N/A
    long = parse_rates(["Date,Currency,Rate", "2026-12-04,usd,1.0843"], base="EUR")
    assert long == [Rate("USD", "2026-12-04", Decimal("1.0843"))]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("Day,USD\n04/12/2026,1.08\n", "line 2.Day"),
        ("Date,USD\n2026-12-04,one\n", "line 2.USD"),
        ("Date,USD\n2026-12-04,0\n", "line 2.USD"),
        ("Date,Dollars\n2026-12-04,1\n", "columns.Dollars"),
        ("Currency,Rate\nUSD,1\n", "file"),
        ("Date,Currency,Rate\n2026-12-04,US,1\n", "line 2.Currency"),
    ],
)
def test_a_bad_rates_file_names_the_line_and_column(text: str, field: str) -> None:
    with pytest.raises(InputError) as error:
        parse_rates(text.splitlines(), base="EUR")
    assert error.value.field == field


def test_a_day_without_a_rate_takes_the_latest_of_the_week_before() -> None:
    rates = Rates("EUR", parse_rates(ECB.splitlines(), base="EUR"))
    assert rates.of("EUR", "1999-01-01") == 1
    assert rates.of("USD", "2026-12-06") == Decimal("1.0843")  # a Sunday: Friday's
    assert rates.of("USD", "2026-12-11") == Decimal("1.0843")
    assert rates.of("USD", "2026-12-12") is None  # over 7 days
    assert rates.of("USD", "2026-12-02") is None  # before the first
    assert rates.of("GBP", "2026-12-04") is None


async def _two_currencies(gw: Gateway) -> None:
    await ad_click(gw, "fbclid", "IwAR_fx", fbp="fb.1.1.FX", event_id="pv-fx")
    gw.clock.advance(3600)
    eur = order(gw, "8001", 100.0, fbp="fb.1.1.FX")
    usd = order(gw, "8002", 108.43, fbp="fb.1.1.OTHER")
    usd["custom_data"]["currency"] = "USD"
    await send(gw, eur, usd)


@pytest.mark.anyio
async def test_a_run_in_one_currency_keeps_every_check_exact(gateway: Gateway) -> None:
    gw = gateway
    await _two_currencies(gw)
    day = datetime.datetime.fromtimestamp(gw.clock.now(), UTC).date().isoformat()
    rates = Rates("EUR", [Rate("USD", day, Decimal("1.0843")), Rate("JPY", day, Decimal(160))])
    claims = [Claim("meta", day, "", "USD", 2.0, Decimal("216.86"), Decimal("54.22"))]
    result = await run(gw)
    converted, kept = convert(result, claims, rates, "EUR", UTC)
    report = build_report(converted, tz=UTC, claims=kept)
    assert report.ok, report.checks
    assert report.actual == [(day, "EUR", 2, Decimal("200.00"), Decimal("200.00"))]
    assert kept == [Claim("meta", day, "", "EUR", 2.0, Decimal("200.00"), Decimal("50.00"))]
    [meta] = [r for r in report.platforms if r.platform == "meta"]
    assert (meta.currency, meta.primary_revenue) == ("EUR", Decimal("100.00"))
    assert (meta.claimed_value, meta.spend) == (Decimal("200.00"), Decimal("50.00"))
    in_yen, _ = convert(result, [], rates, "JPY", UTC)
    assert {a.order.net for a in in_yen.attributions} == {Decimal("16000.00")}
    assert sum(c.amount for a in in_yen.attributions for c in a.credits) == Decimal("32000.00")
    with pytest.raises(MissingRates) as missing:
        convert(result, claims, Rates("EUR", []), "EUR", UTC)
    assert missing.value.missing == [("USD", day)]
    assert f"no exchange rate for USD on {day}" in str(missing.value)


@pytest.mark.anyio
async def test_import_rates_and_a_report_in_one_currency(gateway: Gateway, tmp_path: Path) -> None:
    gw = gateway
    await _two_currencies(gw)
    day = datetime.datetime.fromtimestamp(gw.clock.now(), UTC).date().isoformat()
    await save_claims(
        gw.store,
        DATASET,
        [Claim("meta", day, "", "USD", 2.0, Decimal("216.86"), Decimal("54.22"))],
        source="meta.csv",
        now=0,
    )
    env = {"SIGNALYARD_DATABASE_URL": gw.settings.database_url}

    def invoke(*args: str) -> Any:
        given = [*args, "--dataset", DATASET] if args[1] == "report" else list(args)
        return in_thread(lambda: CliRunner().invoke(main, given, env=env))

    before = invoke("attribution", "report", "--currency", "EUR")
    assert before.exit_code == 1, before.output
    assert f"no exchange rate for USD on {day}" in before.output
    assert "signalyard attribution import-rates FILE" in before.output
    rates = tmp_path / "eurofxref-hist.csv"
    rates.write_text(f"Date,USD,JPY\n{day},1.0843,160\n")
    done = invoke("attribution", "import-rates", str(rates))
    assert done.exit_code == 0, done.output
    assert "2 rate(s) of EUR in 2 currency(ies) over 1 day(s) imported" in done.output
    out = invoke("attribution", "report", "--currency", "EUR", "--format", "csv")
    assert out.exit_code == 0, out.output
    assert f"actual,,{day},EUR,2,200.00" in out.output
    assert ",USD," not in out.output
    bad = invoke("attribution", "report", "--currency", "euro")
    assert bad.exit_code == 2 and "ISO 4217" in bad.output
    env["SIGNALYARD_ATTRIBUTION_REPORTING_CURRENCY"] = "EUR"  # the setting, no option
    by_setting = invoke("attribution", "report", "--format", "csv")
    assert by_setting.exit_code == 0 and ",USD," not in by_setting.output
    env["SIGNALYARD_ATTRIBUTION_REPORTING_CURRENCY"] = "euro"
    refused = invoke("attribution", "report")
    assert refused.exit_code != 0
    assert "attribution.reporting_currency must be an ISO 4217 code" in refused.output
