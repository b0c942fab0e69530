"""Signalyard's own fields on an incoming event, beside Meta's: ``consent`` and ``click_ids``.

Every source may send them (the Graph-compatible API, ``/collect``, order webhooks, imports):

- ``consent``: ``"granted"`` / ``"denied"`` / ``"pending"``, or ``{"state", "source"?,
  "region"?, "subject"?}`` (:func:`signalyard.transforms.consent.parse_consent`). Absent:
  ``unknown``. The region, when not given, is the event's own plaintext country (and US
  state), else the dataset's default country. The subject, when not given, is the event's
  ``fbp``: consent given later for that browser by an authenticated server releases its held
  events. Events from ``/collect`` also carry the browser's consent token (hashed), the only
  key under which the browser itself may give consent later (:mod:`.consent_token`).
- ``click_ids``: ``{"gclid": {"id": "...", "at": <ms>}, "fbclid": "..."}``: click ids for the
  click ledger (a bare string means the click was at ``event_time``).
- ``browser_ids``: ``{"ttp": "..."}``: the browser's ids that other platforms' pixels set in
  first-party cookies (TikTok's ``_ttp``), which their server APIs match on as Meta's
  matches on ``fbp`` (:data:`BROWSER_ID_KINDS`).

They are taken off the event before the pipeline cleans it: the consent state is kept in the
stored event as ``_consent`` (fields starting with ``_`` are never sent to a platform), the
click ids go to the ledger and are kept in the stored event as ``_click_ids`` (``{kind: id}``,
the last one of a kind), for the sinks whose platform takes a click id; the browser ids are
kept as ``_browser_ids``. A sender cannot write either ``_`` field itself.
"""

from __future__ import annotations

from signalyard.errors import InputError
from signalyard.event import AcceptedEvent, ClickId, Consent, value_class
from signalyard.transforms.consent import parse_consent, region_of, subject_key
from signalyard.transforms.hashing import looks_hashed
from signalyard.transforms.user_data import HASHED_KEYS, MAX_VALUES_PER_KEY

__all__ = ["BROWSER_ID_KINDS", "CLICK_ID_KINDS", "Extensions", "attach", "take_extensions"]

CLICK_ID_KINDS = (
    "fbclid",
    "gclid",
    "gbraid",
    "wbraid",
    "ttclid",
    "msclkid",
    "ScCid",
    "epik",
    "rdt_cid",
    "li_fat_id",
    "referral_ad_id",
)
_KINDS = frozenset(CLICK_ID_KINDS)
_MAX_CLICK_ID = 512
BROWSER_ID_KINDS = ("ttp", "ga", "scid", "rdt_uuid", "cart", "checkout")
"""Browser ids a page may pass on, each a first-party cookie: ``ttp`` (``_ttp``, TikTok's
pixel), ``ga`` (``_ga``, Google Analytics: ``GA1.1.<client id>`` or the client id itself),
``scid`` (``_scid``, Snapchat's pixel), ``rdt_uuid`` (``_rdt_uuid``, Reddit's pixel), ``cart``
(Shopify's ``cart`` cookie: the cart's token, which the order webhook carries as
``cart_token``; attribution links the browser to its order by it); and ``checkout``, a
checkout's token (Shopify's checkout ``token``, which the order webhook carries as
``checkout_token``: the same link, for a checkout the cart cookie does not reach)."""
_MAX_BROWSER_ID = 256


def _browser_ids(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError("browser_ids", 'must be an object such as {"ttp": "..."}')
    out: dict[str, str] = {}
    for kind, item in value.items():
        if kind not in BROWSER_ID_KINDS:
            field = (
                f"browser_ids.{kind}"
                if isinstance(kind, str) and kind.isidentifier()
                else "browser_ids"
            )
            raise InputError(field, f"must be one of {', '.join(BROWSER_ID_KINDS)}")
        if item is None:
            continue
        if not isinstance(item, str) or not 0 < len(item.strip()) <= _MAX_BROWSER_ID:
            raise InputError(
                f"browser_ids.{kind}", f"must be a string of 1 to {_MAX_BROWSER_ID} characters"
            )
        out[kind] = item.strip()
    return out


@value_class
class Extensions:
    consent: Consent
    clicks: tuple[ClickId, ...]
    browser: str | None
    id_generated: bool = False
    plaintext_pii: bool = False


def _clicks(value: object, event_time: object) -> tuple[ClickId, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise InputError("click_ids", 'must be an object such as {"gclid": {"id": ..., "at": ...}}')
    default_at = float(event_time) if isinstance(event_time, int | float) else None
    out = []
    for kind, item in value.items():
        field = (
            f"click_ids.{kind}" if isinstance(kind, str) and kind.isidentifier() else "click_ids"
        )
        if kind not in _KINDS:
            raise InputError(field, f"must be one of {', '.join(CLICK_ID_KINDS)}")
        at: object = None
        if isinstance(item, dict):
            click_id, at = item.get("id"), item.get("at")
        else:
            click_id = item
        if not isinstance(click_id, str) or not 0 < len(click_id.strip()) <= _MAX_CLICK_ID:
            raise InputError(f"{field}.id", f"must be a string of 1 to {_MAX_CLICK_ID} characters")
        if at is None:
            if default_at is None:
                raise InputError(f"{field}.at", "is required (the click time, Unix milliseconds)")
            seconds = default_at
        elif isinstance(at, int | float) and not isinstance(at, bool) and 0 < at < 1e14:
            seconds = at / 1000.0
        else:
            raise InputError(f"{field}.at", "must be the click time in Unix milliseconds")
        out.append(ClickId(kind, click_id.strip(), seconds))
    return tuple(out)


def take_extensions(
    raw: object, default_country: str | None, *, token_key: str | None = None
) -> tuple[object, Extensions]:
    """``raw`` without Signalyard's fields (a copy, with ``_consent`` for the store; ``raw``
    itself is not modified) and the fields. ``token_key``: the sending browser's consent token
    (hashed; ``/collect`` only), kept in the consent beside the subject. Raises
    :class:`InputError` on a malformed one."""
    if not isinstance(raw, dict):
        return raw, Extensions(Consent(region=default_country, token_key=token_key), (), None, True)
    event = dict(raw)
    consent_value = event.pop("consent", None)
    clicks = _clicks(event.pop("click_ids", None), event.get("event_time"))
    browser_ids = _browser_ids(event.pop("browser_ids", None))
    event.pop("_click_ids", None)  # only Signalyard writes its own fields
    event.pop("_browser_ids", None)
    if browser_ids:
        event["_browser_ids"] = browser_ids
    if clicks:
        # Kept with the event too (never sent as such): destinations whose platform takes a
        # click id (gclid, ttclid...) send the event's own.
        event["_click_ids"] = {click.kind: click.value for click in clicks}
    user_data = event.get("user_data")
    if not isinstance(user_data, dict):
        user_data = {}
    given = parse_consent(consent_value) if consent_value is not None else None
    fbp = user_data.get("fbp")
    browser = fbp.strip() if isinstance(fbp, str) and fbp.strip() else None
    region = given.region if given is not None else None
    if region is None:
        region = region_of(None, user_data.get("country"), user_data.get("st"), default_country)
    subject = given.subject if given is not None else None
    if subject is None and browser is not None:
        subject = subject_key(browser, "fbp")
    # One construction (dataclasses.replace is several times slower: this runs per event).
    consent = Consent(
        given.state if given is not None else "unknown",
        given.source if given is not None else "none",
        region,
        subject,
        token_key,
    )
    event["_consent"] = consent.to_json()
    generated = event.get("event_id") in (None, "")
    return event, Extensions(consent, clicks, browser, generated, _plaintext(user_data))


def attach(event: AcceptedEvent, extensions: Extensions) -> AcceptedEvent:
    warnings = event.warnings
    consent = extensions.consent
    if consent.state == "pending" and consent.subject is None and consent.token_key is None:
        warnings = (
            *warnings,
            "consent: pending without a subject or fbp: if a destination holds this event,"
            " no later consent can release it (it is dropped after 7 days)",
        )
    e = event
    return AcceptedEvent(
        e.dataset_id,
        e.event_name,
        e.event_id,
        e.event_time,
        e.payload,
        e.source,
        e.test_event_code,
        warnings,
        e.encoded,
        extensions.consent,
        extensions.clicks,
        extensions.browser,
        extensions.id_generated,
        extensions.plaintext_pii,
    )


def _plaintext(user_data: dict[object, object]) -> bool:
    """Whether a key Meta takes only hashed holds a value that is not a hash. Bounded: a list
    over :data:`MAX_VALUES_PER_KEY` is refused by the pipeline, so no more is looked at."""
    for key, value in user_data.items():
        if key in HASHED_KEYS:
            values = value[: MAX_VALUES_PER_KEY + 1] if isinstance(value, list) else [value]
            for item in values:
                if isinstance(item, int | float) and not isinstance(item, bool):
                    return True
                if isinstance(item, str) and item.strip() and not looks_hashed(item.strip()):
                    return True
    return False
