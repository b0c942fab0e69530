"""One order's attribution, explained: its journey (the clicks and landings of its person,
oldest first, each click with whether it was eligible under both window profiles and why
not), its credits, and in one sentence why the primary won."""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

from signalyard.attribution.engine import Run
from signalyard.attribution.model import Attribution, Click, Credit

__all__ = ["explain_json", "explain_text", "find"]


def find(run: Run, order_id: str) -> Attribution | None:
    return next((a for a in run.attributions if a.order.order_id == order_id), None)


def _when(at: float | None, tz: ZoneInfo) -> str:
    if at is None:
        return "time unknown"
    return datetime.datetime.fromtimestamp(at, tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def _span(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s"


def _click_status(run: Run, a: Attribution, click: Click) -> tuple[str, str]:
    """(status under the run's profile, status under the other)."""
    key = (click.platform, click.click_id)
    roles = {(c.click.platform, c.click.click_id): c.role for c in a.credits if c.click}
    reasons = {(c.platform, c.click_id): reason for c, reason in a.not_eligible}
    role = roles.get(key)
    mine = f"eligible ({role})" if role else reasons.get(key, "not credited")
    window = run.windows.other().seconds.get(click.platform)
    at = click.clicked_at
    if at is None:
        theirs = "time_unknown"
    elif at >= a.order.created_at:
        theirs = "after_order"
    elif window is None:
        theirs = "no_window"
    else:
        theirs = "eligible" if a.order.created_at - at <= window else "out_of_window"
    return mine, theirs


def explain_json(run: Run, a: Attribution) -> dict[str, Any]:
    order = a.order
    journey = run.journeys.get(order.order_id)
    other = run.windows.other().profile
    clicks = []
    for click in journey.clicks if journey else ():
        mine, theirs = _click_status(run, a, click)
        clicks.append(
            {
                "platform": click.platform,
                "kind": click.kind,
                "click_id": click.click_id,
                "clicked_at": click.clicked_at,
                "seen_on": click.evidence,
                run.windows.profile: mine,
                other: theirs,
            }
        )
    return {
        "order_id": order.order_id,
        "created_at": order.created_at,
        "kind": order.kind,
        "currency": order.currency,
        "gross": str(order.gross if order.gross is not None else order.net),
        "net": str(order.net),
        "profile": run.windows.profile,
        "windows_seconds": run.windows.seconds,
        "lens": run.lens,
        "clicks": clicks,
        "landings": [
            {"at": t.at, "channel": t.channel, "detail": t.detail}
            for t in (journey.touches if journey else ())
        ],
        "credits": [_credit_json(c) for c in a.credits],
        "why": why(run, a),
    }


def _credit_json(c: Credit) -> dict[str, Any]:
    return {
        "role": c.role,
        "platform": c.platform,
        "channel": c.channel,
        "weight": str(c.weight),
        "amount": str(c.amount),
        "reason": c.reason,
        "click_id": c.click.click_id if c.click else None,
        "lag_seconds": c.lag_seconds,
    }


def why(run: Run, a: Attribution) -> str:
    primary = a.primary
    if primary is not None and primary.reason == "click_to_message_ad" and primary.click:
        return (
            f"the sale was closed in a chat opened from {primary.click.platform}'s"
            f" click-to-message ad ({primary.click.kind}): that ad earns it, whatever its age"
        )
    if primary is not None and primary.click is not None and primary.lag_seconds is not None:
        window = run.windows.seconds[primary.click.platform]
        rival = len([c for c in a.credits if c.role == "assist"])
        tail = f"; {rival} other eligible click(s) assisted" if rival else ""
        chosen = "latest" if run.lens == "last_click" else f"{run.lens} lens'"
        return (
            f"the {chosen} eligible paid click is {primary.click.platform}'s"
            f" {primary.click.kind}, {_span(primary.lag_seconds)} before the order, within"
            f" its {_span(window)} window ({run.windows.profile}){tail}"
        )
    only = a.credits[0]
    if only.role == "fallback" and only.lag_seconds is not None:
        return (
            f"no eligible paid click; the last non-direct landing ({only.channel},"
            f" {only.touch.detail if only.touch else ''}) {_span(only.lag_seconds)} before"
            " the order is credited"
        )
    return f"unattributed: {only.reason}"


def explain_text(run: Run, a: Attribution, tz: ZoneInfo) -> str:
    data = explain_json(run, a)
    order = a.order
    other = run.windows.other().profile
    lines = [
        f"Order {order.order_id}: {_when(order.created_at, tz)}, {order.kind},"
        f" {data['net']} {order.currency} net (gross {data['gross']})",
        "",
        f"Journey (oldest first; eligibility under {run.windows.profile} / {other}):",
    ]
    journey = run.journeys.get(order.order_id)
    items: list[tuple[float, str]] = []
    for c in data["clicks"]:
        items.append(
            (
                c["clicked_at"] if c["clicked_at"] is not None else float("inf"),
                f"  {_when(c['clicked_at'], tz)}  click    {c['platform']} {c['kind']}"
                f" {c['click_id']} (seen on {c['seen_on']}): {c[run.windows.profile]}"
                f" / {c[other]}",
            )
        )
    for t in journey.touches if journey else ():
        items.append((t.at, f"  {_when(t.at, tz)}  landing  {t.channel} {t.detail}".rstrip()))
    items.sort(key=lambda item: item[0])
    lines += [text for _, text in items] or ["  (nothing linked to this order)"]
    lines += ["", f"Credits ({run.lens}):"]
    for c in a.credits:
        who = c.platform or c.channel or "-"
        lag = f", {_span(c.lag_seconds)} before" if c.lag_seconds is not None else ""
        lines.append(
            f"  {c.role:<12} {who:<14} weight {c.weight}  {c.amount} {order.currency}"
            f"  {c.reason}{lag}"
        )
    lines += ["", f"Why: {data['why']}."]
    return "\n".join(lines) + "\n"
