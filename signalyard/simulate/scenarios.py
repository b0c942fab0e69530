"""The scenario catalogue: small named journeys, each with the answer its orders must get
(under the ``platform-default`` windows and the default lens). ``signalyard simulate
--scenario NAME`` runs one; the test suite runs them all.

Each scenario is a function of the simulated start instant (UTC seconds): its steps begin
at or after it.
"""

from __future__ import annotations

from collections.abc import Callable

from signalyard.simulate.steps import Expected, Identify, Journey, Purchase, Refund, Visit

__all__ = ["SCENARIOS"]

DAY = 86400.0
HOUR = 3600.0
SHOP = "https://shop.example.com/"


def _ad(platform_param: str, click_id: str) -> str:
    return f"{SHOP}?{platform_param}={click_id}"


def single_platform(t: float) -> list[Journey]:
    j = Journey("ada")
    j.steps += [
        Visit(t, "ada-phone", _ad("fbclid", "IwAR-single"), "https://l.facebook.com/"),
        Purchase(t + 2 * DAY, "ada-phone", "S-1", "59.00"),
    ]
    j.expected["S-1"] = Expected("primary", platform="meta")
    return [j]


def meta_then_google(t: float) -> list[Journey]:
    j = Journey("ben")
    j.steps += [
        Visit(t, "ben-laptop", _ad("fbclid", "IwAR-ben"), "https://l.facebook.com/"),
        Visit(t + 2 * DAY, "ben-laptop", _ad("gclid", "Cj0-ben"), "https://www.google.com/"),
        Purchase(t + 2 * DAY + HOUR, "ben-laptop", "MG-1", "120.00"),
    ]
    j.expected["MG-1"] = Expected("primary", platform="google", assists=("meta",))
    return [j]


def window_edges(t: float) -> list[Journey]:
    """Meta's 7-day window to the second: a click exactly 7 days before its order is eligible;
    one second more and the order falls back to the click's landing as a channel."""
    inside, outside = Journey("cleo"), Journey("dan")
    inside.steps += [
        Visit(t, "cleo-phone", _ad("fbclid", "IwAR-edge-in")),
        Purchase(t + 7 * DAY, "cleo-phone", "W-IN", "30.00"),
    ]
    inside.expected["W-IN"] = Expected("primary", platform="meta")
    outside.steps += [
        Visit(t, "dan-phone", _ad("fbclid", "IwAR-edge-out")),
        Purchase(t + 7 * DAY + 1, "dan-phone", "W-OUT", "30.00"),
    ]
    outside.expected["W-OUT"] = Expected("fallback", channel="paid_social")
    return [inside, outside]


def click_after_order(t: float) -> list[Journey]:
    j = Journey("eve")
    j.steps += [
        Purchase(t + HOUR, "eve-phone", "CA-1", "15.00"),
        Visit(t + 2 * HOUR, "eve-phone", _ad("ttclid", "TT-late")),
    ]
    j.expected["CA-1"] = Expected("unattributed", reason="no_eligible_click")
    return [j]


def identical_timestamps(t: float) -> list[Journey]:
    """Two clicks of the same second: the one received first is primary."""
    j = Journey("finn")
    j.steps += [
        Visit(t, "finn-tab", _ad("ttclid", "TT-same")),
        Visit(t, "finn-tab", _ad("fbclid", "IwAR-same")),
        Purchase(t + DAY, "finn-tab", "IT-1", "42.00"),
    ]
    j.expected["IT-1"] = Expected("primary", platform="tiktok", assists=("meta",))
    return [j]


def cross_device_with_email(t: float) -> list[Journey]:
    j = Journey("gia")
    j.steps += [
        Visit(t, "gia-phone", _ad("ttclid", "TT-gia")),
        Identify(t + 600, "gia-phone", "gia@example.org"),
        Purchase(t + DAY, "gia-laptop", "XD-1", "88.00", email="gia@example.org"),
    ]
    j.expected["XD-1"] = Expected("primary", platform="tiktok")
    return [j]


def cross_device_without_email(t: float) -> list[Journey]:
    j = Journey("hal")
    j.steps += [
        Visit(t, "hal-phone", _ad("ttclid", "TT-hal")),
        Purchase(t + DAY, "hal-laptop", "XD-2", "88.00"),
    ]
    j.expected["XD-2"] = Expected("unattributed", reason="no_touch")
    return [j]


def itp_expiry(t: float) -> list[Journey]:
    """Safari deleted the browser's storage after 7 days: the order comes from what is, to the
    gateway, a new browser. Without anything else it is lost; when the cart attributes kept
    the click id, the order proves its own click."""
    lost, kept = Journey("ivy"), Journey("jon")
    lost.steps += [
        Visit(t, "ivy-safari", _ad("gclid", "Cj0-ivy")),
        Purchase(t + 9 * DAY, "ivy-safari-after-itp", "ITP-1", "70.00"),
    ]
    lost.expected["ITP-1"] = Expected("unattributed", reason="no_touch")
    kept.steps += [
        Visit(t, "jon-safari", _ad("gclid", "Cj0-jon")),
        Purchase(
            t + 9 * DAY,
            "jon-safari-after-itp",
            "ITP-2",
            "70.00",
            carried_clicks=(("gclid", "Cj0-jon"),),
        ),
    ]
    kept.expected["ITP-2"] = Expected("primary", platform="google")
    return [lost, kept]


def consent_denied(t: float) -> list[Journey]:
    """The shopper declined ad cookies: the landing's click is not evidence."""
    j = Journey("kim")
    j.steps += [
        Visit(t, "kim-phone", _ad("fbclid", "IwAR-kim"), consent="denied"),
        Purchase(t + DAY, "kim-phone", "CD-1", "25.00"),
    ]
    j.expected["CD-1"] = Expected("unattributed", reason="no_touch")
    return [j]


def renewal_chain(t: float) -> list[Journey]:
    j = Journey("lea")
    j.steps += [
        Visit(t, "lea-laptop", _ad("fbclid", "IwAR-lea")),
        Purchase(t + HOUR, "lea-laptop", "R-1", "19.00", email="lea@example.org"),
        Purchase(
            t + 3 * DAY,
            "lea-laptop",
            "R-2",
            "19.00",
            email="lea@example.org",
            kind="system_generated",
        ),
        Purchase(
            t + 6 * DAY,
            "lea-laptop",
            "R-3",
            "19.00",
            email="lea@example.org",
            kind="system_generated",
        ),
    ]
    j.expected["R-1"] = Expected("primary", platform="meta")
    j.expected["R-2"] = Expected("unattributed", reason="renewal_excluded")
    j.expected["R-3"] = Expected("unattributed", reason="renewal_excluded")
    return [j]


def duplicate_and_late_webhooks(t: float) -> list[Journey]:
    """The order reaches the gateway three times, the first an hour late (after a later
    landing of another shopper): one order, one credit."""
    j, other = Journey("max"), Journey("nia")
    j.steps += [
        Visit(t, "max-phone", _ad("gclid", "Cj0-max")),
        Purchase(t + HOUR, "max-phone", "DW-1", "45.00", arrives_at=t + 2 * HOUR, copies=3),
    ]
    other.steps += [Visit(t + 90 * 60, "nia-phone", _ad("fbclid", "IwAR-nia"))]
    j.expected["DW-1"] = Expected("primary", platform="google")
    return [j, other]


def shared_test_email(t: float) -> list[Journey]:
    """The shop's staff place test orders from many browsers with one address: it links
    nobody, so a real shopper using it gets no stranger's clicks."""
    staff = Journey("staff")
    for i in range(25):
        device = f"staff-browser-{i}"
        staff.steps += [
            Visit(t + i * 60, device, _ad("fbclid", f"IwAR-staff-{i}")),
            Identify(t + i * 60 + 1, device, "test@shop.example.com"),
        ]
    buyer = Journey("oli")
    buyer.steps += [Purchase(t + DAY, "oli-phone", "SE-1", "12.00", email="test@shop.example.com")]
    buyer.expected["SE-1"] = Expected("unattributed", reason="no_touch")
    return [staff, buyer]


def fallback_email(t: float) -> list[Journey]:
    j = Journey("pia")
    j.steps += [
        Visit(t, "pia-laptop", f"{SHOP}?utm_source=newsletter&utm_medium=email"),
        Visit(t + DAY, "pia-laptop", SHOP),
        Purchase(t + DAY + 60, "pia-laptop", "FB-1", "33.00"),
    ]
    j.expected["FB-1"] = Expected("fallback", channel="email")
    return [j]


def partial_refund_in_another_currency(t: float) -> list[Journey]:
    """A Shopify order in US dollars in a shop that sells in euros, partly refunded: only that
    order's net revenue drops (in its own currency), its credit goes down with it, and the
    euro order beside it is untouched."""
    usd, eur = Journey("quinn"), Journey("rae")
    usd.steps += [
        Visit(t, "quinn-laptop", _ad("gclid", "Cj0-quinn")),
        Purchase(
            t + HOUR,
            "quinn-laptop",
            "800001",
            "200.00",
            currency="USD",
            email="quinn@example.org",
            via="shopify",
        ),
        Refund(t + 3 * DAY, "quinn-laptop", "800001", "50.00", "USD"),
    ]
    usd.expected["800001"] = Expected("primary", platform="google", net="150.00")
    eur.steps += [
        Visit(t, "rae-phone", _ad("fbclid", "IwAR-rae")),
        Purchase(t + HOUR, "rae-phone", "800002", "80.00", via="shopify"),
    ]
    eur.expected["800002"] = Expected("primary", platform="meta", net="80.00")
    return [usd, eur]


SCENARIOS: dict[str, Callable[[float], list[Journey]]] = {
    "single_platform": single_platform,
    "meta_then_google": meta_then_google,
    "window_edges": window_edges,
    "click_after_order": click_after_order,
    "identical_timestamps": identical_timestamps,
    "cross_device_with_email": cross_device_with_email,
    "cross_device_without_email": cross_device_without_email,
    "itp_expiry": itp_expiry,
    "consent_denied": consent_denied,
    "renewal_chain": renewal_chain,
    "duplicate_and_late_webhooks": duplicate_and_late_webhooks,
    "shared_test_email": shared_test_email,
    "fallback_email": fallback_email,
    "partial_refund_in_another_currency": partial_refund_in_another_currency,
}
