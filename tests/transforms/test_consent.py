"""Consent: parsing what sources send, the policy decision per region and state, and what
each action does to the event sent."""

from __future__ import annotations

import pytest

from signalyard.errors import InputError
from signalyard.event import Consent
from signalyard.transforms.consent import (
    DEFAULT_POLICY,
    decide,
    parse_consent,
    parse_policy,
    parse_rule,
    policy_to_json,
    region_of,
    subject_key,
    without_personal_data,
)


def test_parse_a_bare_state_and_an_object() -> None:
    assert parse_consent("granted") == Consent("granted", "api")
    c = parse_consent({"state": "pending", "source": "tcf", "region": "fr", "subject": "abc"})
    assert (c.state, c.source, c.region) == ("pending", "tcf", "FR")
    assert c.subject == subject_key("abc") != "abc"  # never kept in plaintext


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("maybe", "consent.state"),
        (3, "consent"),
        ({"state": "granted", "source": "cookie-banner"}, "consent.source"),
        ({"state": "granted", "region": "Germany"}, "consent.region"),
        ({"state": "granted", "region": "US-"}, "consent.region"),
        ({"state": "granted", "subject": ""}, "consent.subject"),
    ],
)
def test_bad_consent_names_the_field(value: object, field: str) -> None:
    with pytest.raises(InputError) as error:
        parse_consent(value)
    assert error.value.field == field


def test_region_from_the_event_or_the_dataset() -> None:
    assert region_of("us-ca", "FR", None, "DE") == "US-CA"
    assert region_of(None, "us", "ca", "DE") == "US-CA"
    assert region_of(None, "fr", None, "DE") == "FR"
    # a hashed country says nothing: the dataset's default country
    assert region_of(None, "a" * 64, None, "de") == "DE"
    assert region_of(None, None, None, None) is None


@pytest.mark.parametrize(
    ("state", "region", "action"),
    [
        ("granted", "DE", "full"),
        ("denied", "DE", "drop"),
        ("pending", "DE", "hold"),
        ("unknown", "DE", "full"),
        ("denied", "GB", "drop"),  # EU group includes the UK and Switzerland
        ("denied", "CH", "drop"),
        ("denied", "US-CA", "ldu"),
        ("denied", "US", "ldu"),
        ("pending", "US-TX", "hold"),
        ("denied", "BR", "drop"),
        ("granted", None, "full"),
    ],
)
def test_the_built_in_policy(state: str, region: str | None, action: str) -> None:
    assert decide(None, Consent(state, "api", region)).action == action


def test_the_first_matching_rule_wins_and_the_reason_names_it() -> None:
    policy = [parse_rule("US-CA:denied=no_pii"), parse_rule("US:denied=drop,unknown=hold")]
    d = decide(policy, Consent("denied", "gpc", "US-CA"))
    assert (d.action, d.reason) == (
        "no_pii",
        "consent denied (gpc) in US-CA: rule US-CA says denied=no_pii",
    )
    assert decide(policy, Consent("denied", "gpc", "US-NY")).action == "drop"
    assert decide(policy, Consent("unknown", "none", "US-NY")).action == "hold"
    # not covered by the policy: the built-in rules
    d = decide(policy, Consent("pending", "api", "FR"))
    assert (d.action, d.reason) == (
        "hold",
        "consent pending (api) in FR: built-in rule EU says pending=hold",
    )


def test_a_rule_fills_the_states_it_does_not_name() -> None:
    rule = parse_rule("eea,ch:unknown=hold")
    assert rule.regions == ("EEA", "CH")
    assert dict(rule.actions) == {
        "granted": "full",
        "denied": "drop",
        "pending": "hold",
        "unknown": "hold",
    }
    assert decide([rule], Consent("unknown", "none", "NO")).action == "hold"  # Norway is EEA
    assert decide([rule], Consent("unknown", "none", "GB")).action == "full"  # not EEA


@pytest.mark.parametrize(
    "text", ["EU", "EU:denied", "EU:denied=maybe", "EU:sometimes=drop", ":x=y"]
)
def test_bad_rules_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rule(text)


def test_policy_round_trips_through_json() -> None:
    policy = [parse_rule("US-CA:denied=ldu"), parse_rule("*:unknown=hold")]
    assert parse_policy(policy_to_json(policy)) == tuple(policy)
    assert parse_policy(None) == ()
    assert DEFAULT_POLICY[-1].regions == ("*",)


def test_without_personal_data_keeps_only_the_named_keys() -> None:
    event = {
        "event_name": "Lead",
        "user_data": {"em": ["a" * 64], "client_user_agent": "UA"},
        "_identity": {"em.gmail": ["b" * 64]},
    }
    out = without_personal_data(event, frozenset({"client_user_agent"}))
    assert out["user_data"] == {"client_user_agent": "UA"}
    assert "_identity" not in out
    assert "em" in event["user_data"]  # the stored event is not changed
    assert without_personal_data({"event_name": "Lead"}, frozenset()) == {"event_name": "Lead"}
