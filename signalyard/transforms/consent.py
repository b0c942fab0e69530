"""Consent: the state an event carries, and the per-destination policy that decides what is
sent. Pure: no I/O.

Every event carries a :class:`Consent` (``granted``, ``denied``, ``pending`` or ``unknown``,
where it came from, and the region it applies in). Each destination has a policy: rules by
region, each saying what to do for each state: send in ``full``, send with Limited Data Use
(``ldu``: Meta's ``data_processing_options``), send without personal data (``no_pii``),
``hold`` until consent arrives, or ``drop``. :func:`decide` returns the action and a reason
that names the rule, which the store keeps beside the event's outbox row.

Meta has no consent field in the Conversions API (reference: commerce-and-browser §5.6), so
consent decides *whether and how* an event is sent; it never travels to the platform.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from signalyard.errors import InputError
from signalyard.event import Consent

__all__ = [
    "ACTIONS",
    "DEFAULT_POLICY",
    "REGION_GROUPS",
    "STATES",
    "Consent",
    "Decision",
    "Rule",
    "apply_action",
    "decide",
    "parse_consent",
    "parse_policy",
    "parse_rule",
    "policy_to_json",
    "region_of",
    "subject_key",
]

STATES = ("granted", "denied", "pending", "unknown")
"""``pending``: the page requires consent and the person has not answered yet.
``unknown``: the sender said nothing (existing CAPI clients)."""

ACTIONS = ("full", "ldu", "no_pii", "hold", "drop")

SOURCES = frozenset(
    ("api", "script", "gcm", "tcf", "gpp", "gpc", "shopify", "woocommerce", "import", "none")
)

_EEA = [
    "AT",
    "BE",
    "BG",
    "HR",
    "CY",
    "CZ",
    "DK",
    "EE",
    "FI",
    "FR",
    "DE",
    "GR",
    "HU",
    "IE",
    "IT",
    "LV",
    "LT",
    "LU",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SK",
    "SI",
    "ES",
    "SE",
    "IS",
    "LI",
    "NO",
]
REGION_GROUPS: dict[str, frozenset[str]] = {
    "EEA": frozenset(_EEA),
    # The EEA plus the United Kingdom and Switzerland: where consent before tracking is the rule.
    "EU": frozenset((*_EEA, "GB", "CH")),
}
"""Named groups usable in a rule's regions, besides ``*``, ``US``, ``US-CA``, ``DE``..."""

# Meta's Limited Data Use state codes (reference meta-capi §2.5).
_LDU_STATE = {
    "CA": 1000,
    "CO": 1001,
    "CT": 1002,
    "FL": 1003,
    "OR": 1004,
    "TX": 1005,
    "MT": 1006,
    "DE": 1007,
    "NE": 1008,
    "NH": 1009,
    "NJ": 1010,
    "MN": 1011,
    "MD": 1012,
    "RI": 1013,
}

# user_data keys kept by no_pii: the browser's pseudonymous cookies and the user agent, which
# Meta needs to accept a website event; everything that names or locates a person goes.
_NO_PII_KEEP = frozenset(("fbp", "fbc", "client_user_agent"))


UNKNOWN = Consent()


@dataclass(frozen=True, slots=True)
class Rule:
    regions: tuple[str, ...]
    actions: Mapping[str, str]
    """state -> action, for every state."""

    def matches(self, region: str | None) -> bool:
        for pattern in self.regions:
            if pattern == "*":
                return True
            if region is None:
                continue
            country = region.split("-", 1)[0]
            group = REGION_GROUPS.get(pattern)
            if group is not None:
                if country in group:
                    return True
            elif pattern in (region, country):
                return True
        return False

    def label(self) -> str:
        return ",".join(self.regions)


def _rule(regions: str, **actions: str) -> Rule:
    base = {"granted": "full", "denied": "drop", "pending": "hold", "unknown": "full"}
    base.update(actions)
    return Rule(tuple(regions.split(",")), base)


DEFAULT_POLICY: tuple[Rule, ...] = (
    _rule("EU"),
    _rule("US", denied="ldu"),
    _rule("*"),
)
"""Send what is granted or unstated in full; hold what is pending; drop what is denied,
except in the US, where a denial (an opt-out of sale/sharing) is sent with Limited Data Use."""


@dataclass(frozen=True, slots=True)
class Decision:
    action: str
    reason: str


def decide(policy: Sequence[Rule] | None, consent: Consent | None) -> Decision:
    """The first rule of ``policy`` (else :data:`DEFAULT_POLICY`) whose regions match."""
    consent = consent or UNKNOWN
    own = tuple(policy or ())
    for index, rule in enumerate((*own, *DEFAULT_POLICY)):
        if rule.matches(consent.region):
            action = rule.actions[consent.state]
            where = consent.region or "an unknown region"
            origin = "" if consent.source == "none" else f" ({consent.source})"
            built_in = "built-in " if index >= len(own) else ""
            return Decision(
                action,
                f"consent {consent.state}{origin} in {where}: {built_in}rule "
                f"{rule.label()} says {consent.state}={action}",
            )
    raise AssertionError("the default policy ends with '*'")  # pragma: no cover


def region_of(
    explicit: object, country: object, state: object, default_country: str | None
) -> str | None:
    """``US-CA`` style: the explicit region, else the event's own plaintext country (and US
    state), else the dataset's default country."""
    if isinstance(explicit, str) and explicit.strip():
        return explicit.strip().upper()
    if isinstance(country, str) and len(country.strip()) == 2 and country.strip().isalpha():
        code = country.strip().upper()
        if isinstance(state, str) and len(state.strip()) == 2 and state.strip().isalpha():
            return f"{code}-{state.strip().upper()}"
        return code
    return default_country.upper() if default_country else None


def subject_key(value: str, kind: str = "subject") -> str:
    """The stored form of a consent subject: SHA-256 of ``kind:value``. Kinds keep browsers
    (``fbp``), the subjects a sender chose (``subject``), both of which only an authenticated
    server may release, and a browser's consent token (``token``, the one key an anonymous
    page may speak for: :mod:`signalyard.sources.consent_token`) apart."""
    if kind not in ("fbp", "subject", "token"):
        raise ValueError(f"unknown subject kind {kind!r}")
    return hashlib.sha256(f"{kind}:{value.strip()}".encode()).hexdigest()


def parse_consent(value: object, *, field: str = "consent") -> Consent:
    """A consent value as a source sent it: ``"granted"`` or ``{"state": ..., "source"?: ...,
    "region"?: ..., "subject"?: ...}`` (``subject`` is hashed here; ``source`` defaults to
    ``api``). Raises :class:`InputError` naming the field and the rule."""
    if isinstance(value, str):
        value = {"state": value}
    if not isinstance(value, dict):
        raise InputError(field, 'must be a state ("granted", "denied", "pending") or an object')
    state = value.get("state")
    if state not in STATES:
        raise InputError(f"{field}.state", "must be one of granted, denied, pending, unknown")
    source = value.get("source")
    if source is None:
        source = "api"
    if not isinstance(source, str) or source not in SOURCES:
        raise InputError(f"{field}.source", f"must be one of {', '.join(sorted(SOURCES))}")
    region = value.get("region")
    if region is not None and not _valid_region(region):
        raise InputError(f"{field}.region", "must be an ISO 3166 code such as DE or US-CA")
    subject = value.get("subject")
    if subject is not None and (not isinstance(subject, str) or not 0 < len(subject) <= 256):
        raise InputError(f"{field}.subject", "must be a string of 1 to 256 characters")
    if source == "none":
        # No consent mechanism on the page: nobody was asked, whatever the state says.
        state = "unknown"
    return Consent(
        state=str(state),
        source=source,
        region=region.upper() if isinstance(region, str) else None,
        subject=subject_key(subject) if isinstance(subject, str) else None,
    )


def _valid_region(region: object) -> bool:
    if not isinstance(region, str):
        return False
    country, dash, sub = region.partition("-")
    if len(country) != 2 or not country.isalpha() or not country.isascii():
        return False
    return not dash or (0 < len(sub) <= 3 and sub.isalnum() and sub.isascii())


def parse_rule(text: str) -> Rule:
    """``"EU,CH:denied=drop,pending=hold"``: regions, then state=action pairs (states not
    named keep the built-in choice: granted=full, denied=drop, pending=hold, unknown=full)."""
    regions, sep, pairs = text.partition(":")
    if not sep or not regions.strip():
        raise ValueError(f"{text!r}: expected REGIONS:state=action,...")
    actions: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in pairs.split(","))):
        state, eq, action = pair.partition("=")
        if not eq or state not in STATES or action not in ACTIONS:
            raise ValueError(
                f"{pair!r}: expected state=action with a state in {', '.join(STATES)}"
                f" and an action in {', '.join(ACTIONS)}"
            )
        actions[state] = action
    return _rule(
        ",".join(r.strip().upper() if r.strip() != "*" else "*" for r in regions.split(",")),
        **actions,
    )


def parse_policy(value: object) -> tuple[Rule, ...]:
    """A destination's stored policy (``options["consent_policy"]``); empty when absent."""
    if not isinstance(value, list):
        return ()
    rules = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("regions"), list):
            actions = item.get("actions") or {}
            rules.append(
                _rule(
                    ",".join(str(r) for r in item["regions"]),
                    **{k: v for k, v in actions.items() if k in STATES and v in ACTIONS},
                )
            )
    return tuple(rules)


def policy_to_json(rules: Sequence[Rule]) -> list[dict[str, Any]]:
    return [{"regions": list(r.regions), "actions": dict(r.actions)} for r in rules]


def apply_action(event: dict[str, Any], action: str | None, region: str | None) -> dict[str, Any]:
    """The event as sent under ``action`` (``full``/``None``: unchanged). ``ldu`` adds Meta's
    Limited Data Use options (the US state's code when known, else geolocation); ``no_pii``
    keeps only the browser cookies and the user agent in ``user_data``."""
    if action is None or action == "full":
        return event
    out = dict(event)
    if action == "ldu":
        out["data_processing_options"] = ["LDU"]
        country, _, state = (region or "").partition("-")
        if country == "US" and state in _LDU_STATE:
            out["data_processing_options_country"] = 1
            out["data_processing_options_state"] = _LDU_STATE[state]
        else:
            out["data_processing_options_country"] = 0
            out["data_processing_options_state"] = 0
    elif action == "no_pii":
        user_data = out.get("user_data")
        if isinstance(user_data, dict):
            out["user_data"] = {k: v for k, v in user_data.items() if k in _NO_PII_KEEP}
    return out
