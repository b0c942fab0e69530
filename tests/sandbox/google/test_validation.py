"""Validation: Google's JSON mapping and the API's rules, fail-fast, with field paths."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.google import GoogleError, SandboxState, check_payload

from .factory import (
    INGEST,
    NOW,
    body,
    destination,
    event,
    sha_b64,
    sha_hex,
    stamp,
)
from .test_auth import error_info, google_error

pytestmark = pytest.mark.anyio


def violations(r: httpx.Response) -> list[dict[str, str]]:
    err = google_error(r, 400, "INVALID_ARGUMENT")
    bad = [d for d in err["details"] if d["@type"].endswith("google.rpc.BadRequest")]
    assert len(bad) == 1
    found: list[dict[str, str]] = bad[0]["fieldViolations"]
    return found


def one_violation(r: httpx.Response) -> dict[str, str]:
    found = violations(r)
    assert len(found) == 1, found
    return found[0]


async def post(client: httpx.AsyncClient, auth: dict[str, str], payload: Any) -> httpx.Response:
    return await client.post(INGEST, json=payload, headers=auth)


def ids(email: str | None = None, **kinds: Any) -> dict[str, Any]:
    identifiers: list[dict[str, Any]] = []
    if email is not None:
        identifiers.append({"emailAddress": email})
    for kind, value in kinds.items():
        identifiers.append({kind: value})
    return {"userIdentifiers": identifiers}


# --- the API's rules, one per case -----------------------------------------------------------

CASES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "plaintext email under HEX",
        body(event(userData=ids("jane.doe@example.com"))),
        "events[0].userData.userIdentifiers[0].emailAddress",
        "INVALID_HEX_ENCODING",
    ),
    (
        "hex of the wrong length",
        body(event(userData=ids(sha_hex("x")[:40]))),
        "events[0].userData.userIdentifiers[0].emailAddress",
        "INVALID_SHA256_FORMAT",
    ),
    (
        "plaintext phone under BASE64",
        body(event(userData=ids(phoneNumber="+1 (415) 555-0123")), encoding="BASE64"),
        "events[0].userData.userIdentifiers[0].phoneNumber",
        "INVALID_BASE64_ENCODING",
    ),
    (
        "hex digest under BASE64 decodes to 48 bytes",
        body(event(userData=ids(sha_hex("a"))), encoding="BASE64"),
        "events[0].userData.userIdentifiers[0].emailAddress",
        "INVALID_SHA256_FORMAT",
    ),
    (
        "empty email",
        body(event(userData=ids(""))),
        "events[0].userData.userIdentifiers[0].emailAddress",
        "REQUIRED_FIELD_MISSING",
    ),
    (
        "encoding missing with userData",
        body(event(), encoding=None),
        "encoding",
        "REQUIRED_FIELD_MISSING",
    ),
    (
        "no identifiers in userData",
        body(event(userData={"userIdentifiers": []})),
        "events[0].userData.userIdentifiers",
        "REQUIRED_FIELD_MISSING",
    ),
    (
        "an identifier with nothing set",
        body(event(userData={"userIdentifiers": [{}]})),
        "events[0].userData.userIdentifiers[0]",
        "REQUIRED_FIELD_MISSING",
    ),
    (
        "plaintext given name",
        body(
            event(
                userData=ids(
                    address={
                        "givenName": "Jane",
                        "familyName": sha_hex("doe"),
                        "regionCode": "US",
                        "postalCode": "94043",
                    }
                )
            )
        ),
        "events[0].userData.userIdentifiers[0].address.givenName",
        "INVALID_HEX_ENCODING",
    ),
    (
        "bad region code",
        body(
            event(
                userData=ids(
                    address={
                        "givenName": sha_hex("jane"),
                        "familyName": sha_hex("doe"),
                        "regionCode": "USA",
                        "postalCode": "94043",
                    }
                )
            )
        ),
        "events[0].userData.userIdentifiers[0].address.regionCode",
        "INVALID_COUNTRY_CODE",
    ),
    (
        "hashed postal code",
        body(
            event(
                userData=ids(
                    address={
                        "givenName": sha_hex("jane"),
                        "familyName": sha_hex("doe"),
                        "regionCode": "US",
                        "postalCode": sha_hex("94043"),
                    }
                )
            )
        ),
        "events[0].userData.userIdentifiers[0].address.postalCode",
        "INVALID_POSTAL_CODE",
    ),
    (
        "address without postal code",
        body(
            event(
                userData=ids(
                    address={
                        "givenName": sha_hex("jane"),
                        "familyName": sha_hex("doe"),
                        "regionCode": "US",
                    }
                )
            )
        ),
        "events[0].userData.userIdentifiers[0].address.postalCode",
        "REQUIRED_FIELD_MISSING",
    ),
    (
        "eventTimestamp missing",
        body(event(eventTimestamp=None)),
        "events[0].eventTimestamp",
        "REQUIRED_FIELD_MISSING",
    ),
    (
        "eventTimestamp in the future",
        body(event(eventTimestamp=stamp(-3600))),
        "events[0].eventTimestamp",
        "EVENT_TIME_INVALID",
    ),
    (
        "eventSource missing for Google Ads",
        body(event(eventSource=None)),
        "events[0].eventSource",
        "REQUIRED_FIELD_MISSING",
    ),
    (
        "eventSource unspecified",
        body(event(eventSource="EVENT_SOURCE_UNSPECIFIED")),
        "events[0].eventSource",
        "INVALID_ENUM_VALUE",
    ),
    (
        "no identifiers at all",
        body(event(userData=None, adIdentifiers=None), encoding=None),
        "events[0]",
        "NO_IDENTIFIERS_PROVIDED",
    ),
    (
        "bad currency",
        body(event(currency="usd dollars")),
        "events[0].currency",
        "INVALID_CURRENCY_CODE",
    ),
    (
        "bad landing page IP",
        body(
            event(adIdentifiers={"gclid": "g", "landingPageDeviceInfo": {"ipAddress": "999.1.1.1"}})
        ),
        "events[0].adIdentifiers.landingPageDeviceInfo.ipAddress",
        "INVALID_FORMAT",
    ),
    (
        "bad device IP",
        body(event(eventDeviceInfo={"ipAddress": "localhost"})),
        "events[0].eventDeviceInfo.ipAddress",
        "INVALID_FORMAT",
    ),
    (
        "negative quantity",
        body(event(cartData={"items": [{"itemId": "a", "quantity": -1, "unitPrice": 1}]})),
        "events[0].cartData.items[0].quantity",
        "INVALID_NUMBER_FORMAT",
    ),
    (
        "unknown destination reference",
        body(event(destinationReferences=["nope"])),
        "events[0].destinationReferences[0]",
        "INVALID_DESTINATION",
    ),
    (
        "no destinations",
        body(event(), destinations=[]),
        "destinations",
        "REQUIRED_FIELD_MISSING",
    ),
    ("no events", body(), "events", "REQUIRED_FIELD_MISSING"),
    (
        "no operating account",
        body(event(), destinations=[{"productDestinationId": "1"}]),
        "destinations[0].operatingAccount",
        "REQUIRED_FIELD_MISSING",
    ),
    (
        "customer id with dashes",
        body(
            event(),
            destinations=[
                destination(
                    operatingAccount={"accountType": "GOOGLE_ADS", "accountId": "123-456-7890"}
                )
            ],
        ),
        "destinations[0].operatingAccount.accountId",
        "INVALID_FORMAT",
    ),
    (
        "account type missing",
        body(event(), destinations=[destination(operatingAccount={"accountId": "1234567890"})]),
        "destinations[0].operatingAccount.accountType",
        "REQUIRED_FIELD_MISSING",
    ),
    (
        "conversion action not numeric",
        body(event(), destinations=[destination("purchase")]),
        "destinations[0].productDestinationId",
        "INVALID_CONVERSION_ACTION_ID",
    ),
    (
        "conversion action missing",
        body(event(), destinations=[destination("")]),
        "destinations[0].productDestinationId",
        "REQUIRED_FIELD_MISSING",
    ),
    (
        "duplicate references",
        body(
            event(),
            destinations=[destination(reference="a"), destination("2", reference="a")],
        ),
        "destinations[1].reference",
        "DUPLICATE_DESTINATION_REFERENCE",
    ),
]


@pytest.mark.parametrize(("name", "payload", "field", "reason"), CASES, ids=[c[0] for c in CASES])
async def test_rule(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    state: SandboxState,
    name: str,
    payload: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    r = await post(client, auth, payload)
    violation = one_violation(r)
    assert violation["field"] == field
    assert violation["reason"] == reason
    assert violation["description"]
    err = r.json()["error"]
    assert err["message"] == "Request contains an invalid argument."
    info = error_info(err)
    assert info["reason"] == reason and info["domain"] == "datamanager.googleapis.com"
    request_info = [d for d in err["details"] if d["@type"].endswith("RequestInfo")]
    assert request_info and request_info[0]["requestId"]
    assert state.events() == []


async def test_messages_never_echo_hashed_or_personal_values(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    r = await post(client, auth, body(event(userData=ids("jane.doe@example.com"))))
    assert "jane.doe" not in r.text


async def test_valid_hashes_in_both_encodings(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    upper = sha_hex("a").upper()
    assert (await post(client, auth, body(event(userData=ids(upper))))).status_code == 200
    b64 = body(
        event("o2", userData=ids(sha_b64("a"), phoneNumber=sha_b64("+1"))), encoding="BASE64"
    )
    assert (await post(client, auth, b64)).status_code == 200


async def test_fail_fast_one_bad_event_rejects_all(
    client: httpx.AsyncClient, auth: dict[str, str], state: SandboxState
) -> None:
    events = [event(f"o{i}") for i in range(5)]
    events[3]["userData"] = ids("plain@example.com")
    r = await post(client, auth, body(*events))
    assert one_violation(r)["field"] == "events[3].userData.userIdentifiers[0].emailAddress"
    assert state.events() == []
    summary = state.summary()["conversion_actions"]["987654321"]
    assert summary["invalid"] == 1 and summary["received"] == 0
    assert summary["rejected_requests"] == 1


async def test_every_violation_is_listed(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    events = [event(f"o{i}", currency="XXXX") for i in range(3)]
    events[1]["eventTimestamp"] = stamp(-7200)
    found = violations(await post(client, auth, body(*events)))
    assert [v["field"] for v in found] == [
        "events[0].currency",
        "events[1].eventTimestamp",
        "events[1].currency",
        "events[2].currency",
    ]


# --- Google's JSON mapping ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field", "message_start"),
    [
        (body(event(), shoeSize=9), "", 'Invalid JSON payload received. Unknown name "shoeSize"'),
        (
            body(event(em="x")),
            "events[0]",
            "Invalid JSON payload received. Unknown name \"em\" at 'events[0]'",
        ),
        (
            body(event(conversionValue="lots")),
            "events[0].conversionValue",
            "Invalid value at 'events[0].conversionValue' (TYPE_DOUBLE)",
        ),
        (
            body(event(eventTimestamp="2027-01-15 08:00:00")),
            "events[0].eventTimestamp",
            "Invalid value at 'events[0].eventTimestamp' "
            "(type.googleapis.com/google.protobuf.Timestamp)",
        ),
        (
            body(event(eventTimestamp=1800000000)),
            "events[0].eventTimestamp",
            "Invalid value at 'events[0].eventTimestamp'",
        ),
        (
            body(event(consent={"adUserData": "YES"})),
            "events[0].consent.adUserData",
            "Invalid value at 'events[0].consent.adUserData' "
            "(type.googleapis.com/google.ads.datamanager.v1.ConsentStatus)",
        ),
        (
            body(
                event(
                    userData={
                        "userIdentifiers": [
                            {"emailAddress": sha_hex("a"), "phoneNumber": sha_hex("b")}
                        ]
                    }
                )
            ),
            "events[0].userData.userIdentifiers[0].phoneNumber",
            "Invalid JSON payload received. Oneof field 'identifier' is already set.",
        ),
        (
            body(event(transactionId=17)),
            "events[0].transactionId",
            "Invalid value at 'events[0].transactionId' (TYPE_STRING)",
        ),
        (
            {"destinations": {"a": 1}, "events": []},
            "destinations",
            "Invalid value at 'destinations' (list)",
        ),
        ([1, 2], "", "Invalid JSON payload received. Expected an object"),
        (
            body(event(cartData={"items": [{"quantity": "two"}]})),
            "events[0].cartData.items[0].quantity",
            "Invalid value at 'events[0].cartData.items[0].quantity' (TYPE_INT64)",
        ),
    ],
)
async def test_json_mapping_errors(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    payload: Any,
    field: str,
    message_start: str,
) -> None:
    r = await post(client, auth, payload)
    violation = one_violation(r)
    assert violation["field"] == field
    assert violation["description"].startswith(message_start), violation
    assert r.json()["error"]["message"] == violation["description"]
    assert "reason" not in violation


async def test_invalid_json(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.post(INGEST, content=b"{not json", headers=auth)
    assert one_violation(r)["description"].startswith("Invalid JSON payload received.")


async def test_snake_case_names_and_enum_numbers_are_accepted(
    client: httpx.AsyncClient, auth: dict[str, str], state: SandboxState
) -> None:
    ev = {
        "transaction_id": "snake-1",
        "event_timestamp": stamp(),
        "event_source": 1,
        "ad_identifiers": {"gclid": "g-1"},
        "conversion_value": "12.5",
    }
    payload = {
        "destinations": [
            {
                "operating_account": {"account_type": "GOOGLE_ADS", "account_id": "1234567890"},
                "product_destination_id": "55",
            }
        ],
        "events": [ev],
        "validate_only": False,
    }
    r = await post(client, auth, payload)
    assert r.status_code == 200, r.text
    assert state.events()[0].transaction_id == "snake-1"


async def test_timestamps_with_offsets_and_nanoseconds(
    client: httpx.AsyncClient, auth: dict[str, str], clock: FrozenClock
) -> None:
    for i, value in enumerate(
        ["2027-01-15T08:59:59.123456789+01:00", "2027-01-15T07:00:00.5Z", "2027-01-15t07:00:00z"]
    ):
        r = await post(client, auth, body(event(f"t{i}", eventTimestamp=value)))
        assert r.status_code == 200, (value, r.text)


def test_check_payload_without_http() -> None:
    checked = check_payload(body(event("a"), event("b")), NOW)
    assert [e.transaction_id for e in checked.events] == ["a", "b"]
    assert checked.destinations[0].conversion_action == "987654321"
    with pytest.raises(GoogleError) as caught:
        check_payload(body(event(userData=ids("plain@example.com"))), NOW)
    error = caught.value.body()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["details"][1]["fieldViolations"][0]["reason"] == "INVALID_HEX_ENCODING"


async def test_mapping_errors_do_not_echo_strings(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    r = await post(client, auth, body(event(userData="jane.doe@example.com")))
    violation = one_violation(r)
    assert violation["field"] == "events[0].userData"
    assert "jane" not in r.text and "a string of 20 characters" in violation["description"]
