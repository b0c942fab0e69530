"""A :class:`~.report.Report` written out: as JSON, CSV (one row per platform, channel, reason
and day) or a plain-text table."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from signalyard.attribution.report import Report

__all__ = ["report_csv", "report_json", "report_table", "text"]


def report_json(report: Report) -> dict[str, Any]:
    return {
        "dataset_id": report.dataset_id,
        "profile": report.profile,
        "other_profile": report.other_profile,
        "lens": report.lens,
        "time_zone": report.tz,
        "platforms": [
            {
                "platform": r.platform,
                "day": r.day,
                "currency": r.currency,
                "eligible": r.eligible,
                f"eligible_{report.other_profile.replace('-', '_')}": r.eligible_other,
                "primary": r.primary,
                "primary_revenue": str(r.primary_revenue),
                "assisted": r.assisted,
                "assisted_revenue": str(r.assisted_revenue),
                "overlap": r.overlap,
                **(
                    {
                        "claimed": r.claimed,
                        "claimed_value": str(r.claimed_value),
                        "spend": str(r.spend),
                        "true_roas": text(r.true_roas),
                        "claimed_roas": text(r.claimed_roas),
                        "unverified": r.unverified,
                    }
                    if r.has_claims
                    else {}
                ),
            }
            for r in report.platforms
        ],
        "channels": [
            {"channel": c, "day": d, "currency": cur, "orders": n, "revenue": str(v)}
            for c, d, cur, n, v in report.channels
        ],
        "unattributed": [
            {"reason": c, "day": d, "currency": cur, "orders": n, "revenue": str(v)}
            for c, d, cur, n, v in report.unattributed
        ],
        "actual": [
            {"day": d, "currency": cur, "orders": n, "net": str(v), "gross": str(g)}
            for d, cur, n, v, g in report.actual
        ],
        "co_eligible": [
            {"platforms": [a, b], "orders": n} for (a, b), n in sorted(report.co_eligible.items())
        ],
        "campaigns": [
            {
                "platform": k.platform,
                "campaign": k.campaign,
                "currency": k.currency,
                "primary": k.primary,
                "primary_revenue": str(k.primary_revenue),
                **(
                    {
                        "claimed": k.claimed,
                        "claimed_value": str(k.claimed_value),
                        "spend": str(k.spend),
                        "true_roas": text(k.true_roas),
                        "claimed_roas": text(k.claimed_roas),
                    }
                    if k.has_claims
                    else {}
                ),
            }
            for k in report.campaigns
        ],
        "claims": report.claims,
        "quality": report.quality,
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in report.checks],
        "ok": report.ok,
    }


def report_csv(report: Report) -> str:
    """One row per platform, channel, reason and day: ``row`` says which."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(
        [
            "row",
            "name",
            "day",
            "currency",
            "orders",
            "revenue",
            "eligible",
            f"eligible_{report.other_profile}",
            "assisted",
            "overlap",
            "claimed",
            "claimed_value",
            "spend",
            "true_roas",
            "claimed_roas",
        ]
    )
    for r in report.platforms:
        w.writerow(
            [
                "platform",
                r.platform,
                r.day,
                r.currency,
                r.primary,
                r.primary_revenue,
                r.eligible,
                r.eligible_other,
                r.assisted,
                r.overlap,
                *(
                    (
                        r.claimed,
                        r.claimed_value,
                        r.spend,
                        text(r.true_roas),
                        text(r.claimed_roas),
                    )
                    if r.has_claims
                    else ("", "", "", "", "")
                ),
            ]
        )
    blank = [""] * 9
    for k in report.campaigns:
        claims = (
            (k.claimed, k.claimed_value, k.spend, text(k.true_roas), text(k.claimed_roas))
            if k.has_claims
            else ("", "", "", "", "")
        )
        w.writerow(
            [
                f"campaign:{k.platform}",
                k.campaign,
                "",
                k.currency,
                k.primary,
                k.primary_revenue,
                "",
                "",
                "",
                "",
                *claims,
            ]
        )
    for c, d, cur, n, v in report.channels:
        w.writerow(["channel", c, d, cur, n, v, *blank])
    for c, d, cur, n, v in report.unattributed:
        w.writerow(["unattributed", c, d, cur, n, v, *blank])
    for d, cur, n, v, _g in report.actual:
        w.writerow(["actual", "", d, cur, n, v, *blank])
    return out.getvalue()


def report_table(report: Report) -> str:
    lines = [
        f"Attribution of dataset {report.dataset_id}: last eligible paid click"
        if report.lens == "last_click"
        else f"Attribution of dataset {report.dataset_id}: lens {report.lens}",
        f"windows: {report.profile} (eligible under {report.other_profile} beside it);"
        f" days in {report.tz}",
        "",
    ]
    rows = [
        [
            r.platform,
            r.day,
            r.currency,
            str(r.eligible),
            str(r.eligible_other),
            str(r.primary),
            str(r.primary_revenue),
            str(r.assisted),
            str(r.overlap),
        ]
        for r in report.platforms
    ]
    lines += _table(
        [
            "platform",
            "day",
            "cur",
            "eligible",
            f"elig. {report.other_profile}",
            "primary",
            "revenue",
            "assisted",
            "overlap",
        ],
        rows,
    )
    totals = report.totals()
    if any(t.has_claims for t in totals):
        lines += ["", "Claimed by each platform, beside our credit (the whole period)"]
        lines += _table(
            [
                "platform",
                "cur",
                "claimed",
                "eligible",
                "unverified",
                "primary",
                "revenue",
                "claimed value",
                "spend",
                "true ROAS",
                "claimed ROAS",
            ],
            [
                [
                    t.platform,
                    t.currency,
                    f"{t.claimed:g}",
                    str(t.eligible),
                    f"{t.unverified:g}" if t.unverified is not None else "-",
                    str(t.primary),
                    str(t.primary_revenue),
                    str(t.claimed_value),
                    str(t.spend),
                    text(t.true_roas) or "-",
                    text(t.claimed_roas) or "-",
                ]
                for t in totals
            ],
        )
        inflation = report.claims.get("inflation_orders")
        if inflation is not None:
            lines.append(f"  inflation: the platforms claim {inflation}x the actual orders")
    if report.campaigns:
        lines += ["", "Per campaign (the landing's utm_campaign of each primary click)"]
        lines += _table(
            [
                "platform",
                "campaign",
                "cur",
                "primary",
                "revenue",
                "claimed",
                "spend",
                "true ROAS",
                "claimed ROAS",
            ],
            [
                [
                    k.platform,
                    k.campaign or "(none)",
                    k.currency,
                    str(k.primary),
                    str(k.primary_revenue),
                    f"{k.claimed:g}" if k.has_claims else "-",
                    str(k.spend) if k.has_claims else "-",
                    text(k.true_roas) or "-",
                    text(k.claimed_roas) or "-",
                ]
                for k in report.campaigns
            ],
        )
    if report.channels:
        lines += ["", "Fallback (no eligible click: the last non-direct landing, 90 days)"]
        lines += _table(
            ["channel", "day", "cur", "orders", "revenue"],
            [[c, d, cur, str(n), str(v)] for c, d, cur, n, v in report.channels],
        )
    if report.unattributed:
        lines += ["", "Unattributed"]
        lines += _table(
            ["reason", "day", "cur", "orders", "revenue"],
            [[c, d, cur, str(n), str(v)] for c, d, cur, n, v in report.unattributed],
        )
    lines += ["", "Actual (paid orders, net of refunds and cancellations)"]
    lines += _table(
        ["day", "cur", "orders", "net", "gross"],
        [[d, cur, str(n), str(v), str(g)] for d, cur, n, v, g in report.actual],
    )
    if report.co_eligible:
        lines += ["", "Co-eligible orders (eligible for both platforms)"]
        lines += _table(
            ["platforms", "orders"],
            [[f"{a} + {b}", str(n)] for (a, b), n in sorted(report.co_eligible.items())],
        )
    lines += ["", "Data quality"]
    lines += [f"  {k}: {v}" for k, v in report.quality.items()]
    lines += ["", "Checks"]
    lines += [f"  [{'OK' if c.ok else 'FAILED'}] {c.name}: {c.detail}" for c in report.checks]
    return "\n".join(lines) + "\n"


def text(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return ["  (none)"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    fmt = "  " + "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*head)] + [fmt.format(*r) for r in rows]
