"""Whatever is posted, the sandbox answers in Google's shapes and never with a 5xx."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalyard.clock import FrozenClock
from signalyard.sandbox.google import SandboxState, create_app

from .factory import INGEST, NOW, SCOPE, body, event

_json: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["HEX", "BASE64", "GOOGLE_ADS", "CONSENT_GRANTED", "2027-01-15T07:00:00Z"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "events",
                    "destinations",
                    "userData",
                    "userIdentifiers",
                    "emailAddress",
                    "address",
                    "eventTimestamp",
                    "consent",
                    "cartData",
                    "items",
                    "quantity",
                    "operatingAccount",
                    "accountId",
                    "productDestinationId",
                    "encoding",
                    "adIdentifiers",
                    "other",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)

_state = SandboxState(clock=FrozenClock(NOW), quota_per_minute=10**9, quota_per_day=10**9)
_app = create_app(state=_state)
_token = _state.tokens.issue(
    now=NOW, lifetime=10**9, credential="fuzz", project="fuzz", scopes=frozenset({SCOPE}), grant="x"
)
_headers = {"Authorization": f"Bearer {_token}"}


async def _post(payload: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        return await client.post(INGEST, json=payload, headers=_headers)


def _check(payload: Any) -> None:
    r = asyncio.run(_post(payload))
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        err = r.json()["error"]
        assert err["status"] == "INVALID_ARGUMENT" and err["details"]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(_json)
def test_any_body(payload: Any) -> None:
    _check(payload)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(sorted(event())), _json)
def test_any_value_in_an_event(field: str, value: Any) -> None:
    ev = event()
    ev[field] = value
    _check(body(ev))
