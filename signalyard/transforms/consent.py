"""Consent: the state an event carries, and the per-destination policy that decides what is
sent. Pure: no I/O.

Every event carries a :class:`Consent` (``granted``, ``denied``, ``pending`` or ``unknown``,
where it came from, and the region it applies in). Each destination has a policy: rules by
region, each saying what to do for each state: send in ``full``, send with Limited Data Use
(``ldu``: the platform restricts how it uses the event), send without personal data
(``no_pii``),
``hold`` until consent arrives, or ``drop``. :func:`decide` returns the action and a reason
that names the rule, which the store keeps beside the event's outbox row.

How an action changes what is sent is the destination kind's own rule
(:attr:`signalyard.sinks.spec.SinkSpec.apply_consent`, in ``sinks/<platform>/consent.py``):
this module names no platform. :func:`without_personal_data` is the part they share.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from signalyard.errors import InputError
from signalyard.event import Consent, ServerEvent

__all__ = [
    "ACTIONS",
    "DEFAULT_POLICY",
    "REGION_GROUPS",
    "STATES",
    "Consent",
    "Decision",
    "Rule",
    "decide",
    "parse_consent",
    "parse_policy",
    "parse_rule",
    "policy_to_json",
    "region_of",
    "subject_key",
    "without_personal_data",
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


def without_personal_data(event: ServerEvent, keep: frozenset[str]) -> ServerEvent:
    """The event with only the ``user_data`` keys in ``keep`` (the ``no_pii`` action): each
    destination kind says which of its keys name no one (browser cookies, the user agent).
    The identity variants made from the same personal data (``_identity``) go too."""
    out = dict(event)
    out.pop("_identity", None)
    user_data = event.get("user_data")
    if isinstance(user_data, dict):
        out["user_data"] = {k: v for k, v in user_data.items() if k in keep}
    return out
