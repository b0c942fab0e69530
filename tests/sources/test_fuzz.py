"""Property-based fuzzing of the Graph-compatible ingest endpoint, through the real app.

Whatever arrives (random bytes, random JSON, events with random field types and values,
random content types and charsets, query strings, headers, huge numbers, deep nesting,
NaN/Infinity literals, invalid UTF-8, escaped lone surrogates), the answer is never a 5xx:
it is 200 with Meta's success shape, or a 4xx with Meta's error shape and a message. After
every answer the store holds exactly what was acknowledged: every event answered 200 is
there, and a refused request stored nothing.

Multipart charsets that decode to lone surrogates (utf-7, unicode_escape) and Content-Length
values made of non-ASCII digits are included: both were 500s once.

The app runs once for the module, on an event loop in a blocking portal; Hypothesis drives
it synchronously (about 300 examples in all, no example database).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_from_bytes, urlencode

import anyio.from_thread
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalyard.app import create_app
from signalyard.clock import FrozenClock
from signalyard.settings import Settings
from signalyard.sources.auth import new_key
from signalyard.store import migrate
from signalyard.store.sqlite import SQLiteStore

DATASET = "1234567890"
NOW = 1_800_000_000
FUZZ = settings(
    database=None,
    deadline=None,
    derandomize=False,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
_DUPLICATES = re.compile(r"^(\d+) event\(s\) already received")


# the gateway under fuzz ---------------------------------------------------------------------


@dataclass
class FuzzGateway:
    portal: anyio.from_thread.BlockingPortal
    client: httpx.AsyncClient
    store: SQLiteStore
    db_path: Path
    key: str
    stored_count: int = 0
    """Events the gateway acknowledged as newly stored (200, minus reported duplicates)."""
    acknowledged: set[tuple[str, str]] = field(default_factory=set)
    """(event_name, event_id) of events answered 200, when both were sent as plain values."""
    statuses: dict[int, int] = field(default_factory=dict)

    def post(
        self,
        target: str,
        *,
        content: bytes = b"",
        headers: list[tuple[bytes, bytes]] | None = None,
        sent_events: list[Any] | None = None,
    ) -> httpx.Response:
        """Send, then check the answer's shape and that the store holds what was answered."""
        request = self.client.build_request("POST", target, content=content, headers=headers)
        response: httpx.Response = self.portal.call(self.client.send, request)
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        self._check_shape(response)
        count = self.portal.call(self.store.event_count)
        if response.status_code == 200:
            body = response.json()
            duplicates = 0
            for message in body["messages"]:
                m = _DUPLICATES.match(message)
                if m:
                    duplicates = int(m[1])
            self.stored_count += body["events_received"] - duplicates
            if sent_events is not None:
                assert body["events_received"] == len(sent_events)
                for event in sent_events:
                    key = _plain_key(event)
                    if key is not None:
                        self.acknowledged.add(key)
        # Nothing acknowledged is missing, nothing refused was stored.
        assert count == self.stored_count, (response.status_code, response.text[:500])
        return response

    @staticmethod
    def _check_shape(r: httpx.Response) -> None:
        assert r.status_code < 500, r.text[:2000]
        assert r.status_code == 200 or 400 <= r.status_code < 500, r.status_code
        assert r.headers["content-type"].startswith("application/json")
        body = r.json()
        assert isinstance(body, dict)
        if r.status_code == 200:
            assert set(body) == {"events_received", "messages", "fbtrace_id"}
            assert isinstance(body["events_received"], int) and body["events_received"] >= 1
            assert all(isinstance(m, str) and m for m in body["messages"])
            assert isinstance(body["fbtrace_id"], str) and body["fbtrace_id"]
        else:
            error = body["error"]
            assert isinstance(error["message"], str) and error["message"].strip()
            assert error["type"] == "OAuthException"
            assert isinstance(error["code"], int) and not isinstance(error["code"], bool)
            assert error["is_transient"] is False
            assert isinstance(error["fbtrace_id"], str) and error["fbtrace_id"]
            assert isinstance(error["error_user_msg"], str) and error["error_user_msg"]
            if "error_subcode" in error:
                assert isinstance(error["error_subcode"], int)

    def stored_keys(self) -> set[tuple[str, str]]:
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            return {(r[0], r[1]) for r in conn.execute("SELECT event_name, event_id FROM events")}
        finally:
            conn.close()

    def assert_nothing_lost(self) -> None:
        assert self.portal.call(self.store.event_count) == self.stored_count
        missing = self.acknowledged - self.stored_keys()
        assert not missing, f"acknowledged but not stored: {sorted(missing)[:5]}"


def _plain_key(event: Any) -> tuple[str, str] | None:
    if not isinstance(event, dict):
        return None
    name, event_id = event.get("event_name"), event.get("event_id")
    if not isinstance(name, str) or isinstance(event_id, bool):
        return None
    if isinstance(event_id, str) and event_id.strip():
        return (name, event_id)
    if isinstance(event_id, int):
        return (name, str(event_id))
    return None


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzGateway]:
    tmp = tmp_path_factory.mktemp("fuzz")
    db_path = tmp / "fuzz.db"
    url = f"sqlite:///{db_path}"
    migrate.upgrade(url)
    clock = FrozenClock(float(NOW))
    key = new_key()

    async def prepare() -> None:
        store = SQLiteStore(url)
        await store.open()
        try:
            await store.add_dataset(DATASET, name="Fuzz", default_country="US", now=NOW)
            await store.add_key(DATASET, key_id=key.id, key_hash=key.key_hash, label="", now=NOW)
        finally:
            await store.close()

    store = SQLiteStore(url)
    app = create_app(
        Settings(database_url=url, sandbox=False, worker=False, max_body_bytes=256 * 1024),
        store,
        clock=clock,
        run_worker=False,
    )
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        portal.call(prepare)
        with portal.wrap_async_context_manager(app.router.lifespan_context(app)):
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway"
            )
            with portal.wrap_async_context_manager(client):
                gateway = FuzzGateway(portal, client, store, db_path, key.secret)
                yield gateway
                gateway.assert_nothing_lost()


def _target(gw: FuzzGateway, token: bool = True) -> str:
    path = f"/v26.0/{DATASET}/events"
    return f"{path}?access_token={gw.key}" if token else path


# strategies ---------------------------------------------------------------------------------

SURROGATE = st.characters(categories=["Cs"])
TEXT = st.text(max_size=30)
NASTY_TEXT = st.one_of(
    TEXT,
    st.text(st.characters() | SURROGATE, max_size=12),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\u202e",
            "\ufeff",
            "NaN",
            "1e999",
            "-0",
            "00000000001799999999",
            "1799999999",
            "17999999990000",
            "%ff",
            "fb.1.1700000000000.AbC",
            "fb.1.x.y.AQ",
            "::1",
            "203.0.113.7.AQ",
            "a" * 64,
            "A" * 32,
            "e" * 300,
            "https://shop.example.com/?fbclid=" + "x" * 40,
            "http://[::1",
            "javascript:alert(1)",
            "usd",
            "USD",
            "LDU",
            "Purchase",
        ]
    ),
)
HUGE_INTS = st.sampled_from(
    [
        0,
        -1,
        1,
        2**31,
        2**53 + 1,
        2**63 - 1,
        2**63,
        -(2**63) - 1,
        2**64 - 1,
        2**64,
        10**30,
        -(10**30),
        10**300,
        10**400,
    ]
)
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.5, -0.0, 1e308, 5e-324, 1.8e9, 1.8e12, float("nan"), float("inf")]
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), HUGE_INTS, FLOATS, NASTY_TEXT)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(NASTY_TEXT, children, max_size=4)
    ),
    max_leaves=12,
)


class Deep:
    """A marker for a nested value written as raw JSON text (not built as Python objects)."""

    def __init__(self, depth: int, opener: str) -> None:
        self.depth = depth
        self.opener = opener

    def raw(self) -> str:
        if self.opener == "[":
            return "[" * self.depth + "1" + "]" * self.depth
        return '{"a":' * self.depth + "1" + "}" * self.depth


# Shallow, past the validator's limit, past what orjson.dumps encodes (254), past what
# orjson.loads parses (1024).
DEEP = st.builds(
    Deep,
    st.integers(1, 20) | st.integers(1, 300) | st.integers(250, 1100),
    st.sampled_from(["[", "{"]),
)
NASTY = st.one_of(SCALARS, JSON_VALUES, DEEP)

USER_KEYS = [
    "em",
    "ph",
    "fn",
    "ln",
    "db",
    "ge",
    "ct",
    "st",
    "zp",
    "country",
    "external_id",
    "client_ip_address",
    "client_user_agent",
    "fbc",
    "fbp",
    "subscription_id",
    "fb_login_id",
    "lead_id",
    "anon_id",
    "madid",
    "page_id",
    "page_scoped_user_id",
    "ctwa_clid",
    "ig_account_id",
    "ig_sid",
    "whatsapp_business_account_id",
    "instagram_business_account_id",
]
GOOD_USER_VALUES = st.sampled_from(
    [
        "jane.doe@example.com",
        "+1 (650) 555-1212",
        "6505551212",
        6505551212,
        "Jane",
        "19900216",
        "02/16/1990",
        "f",
        "Menlo Park",
        "CA",
        "94025",
        "us",
        "customer-1",
        "203.0.113.7",
        "2001:db8::1",
        "Mozilla/5.0",
        "fb.1.1700000000000.AbCdEf",
        "a" * 64,
        "1234567890",
        1234567890,
    ]
)
TOP_LEVEL_KEYS = [
    "event_name",
    "event_time",
    "event_id",
    "action_source",
    "event_source_url",
    "user_data",
    "custom_data",
    "opt_out",
    "data_processing_options",
    "data_processing_options_country",
    "data_processing_options_state",
    "referrer_url",
    "app_data",
    "messaging_channel",
    "original_event_data",
    "customer_segmentation",
    "unknown_field",
]
CUSTOM_KEYS = ["currency", "value", "contents", "content_ids", "order_id", "num_items", "x"]
APP_DATA = {"advertiser_tracking_enabled": 1, "extinfo": ["a2"] + [""] * 15}
_ABSENT = object()
_counter = iter(range(10**9))


def _template(kind: str, event_id: str, event_time: int) -> dict[str, Any]:
    """A valid event of one of the shapes Meta accepts."""
    base: dict[str, Any] = {"event_time": event_time, "event_id": event_id}
    if kind == "purchase":
        return base | {
            "event_name": "Purchase",
            "action_source": "website",
            "event_source_url": "https://shop.example.com/thanks?fbclid=IwAR2F4-dbP0l7Mn",
            "user_data": {
                "em": ["Jane.Doe@Example.com"],
                "ph": "+1 650 555 1212",
                "client_ip_address": "203.0.113.7",
                "client_user_agent": "Mozilla/5.0",
            },
            "custom_data": {"currency": "usd", "value": "142.52", "contents": [{"id": "A"}]},
        }
    if kind == "lead":
        return base | {"event_name": "Lead", "action_source": "email", "user_data": {"em": "a@b.c"}}
    if kind == "app":
        return base | {
            "event_name": "fb_mobile_purchase",
            "action_source": "app",
            "app_data": dict(APP_DATA),
            "user_data": {"madid": "38400000-8cf0-11bd-b23e-10b96e40000d"},
        }
    if kind == "messaging":
        return base | {
            "event_name": "LeadSubmitted",
            "action_source": "business_messaging",
            "messaging_channel": "whatsapp",
            "user_data": {"whatsapp_business_account_id": "123", "ctwa_clid": "ARAk"},
        }
    return base | {
        "event_name": "ViewContent",
        "action_source": "physical_store",
        "user_data": {"ph": 16505551212, "external_id": ["c-1", "c-2"], "country": "US"},
        "data_processing_options": ["LDU"],
        "data_processing_options_country": 1,
        "data_processing_options_state": 1000,
        "opt_out": False,
    }


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event of a random shape, then 0-3 mutations meant to hit the validators: a
    field set to a random value (top level, in user_data or in custom_data) or removed."""
    kind = draw(st.sampled_from(["purchase", "lead", "app", "messaging", "store"]))
    event_time = draw(st.integers(NOW - 7 * 86400 + 60, NOW + 500))
    event = _template(kind, f"fz-{next(_counter)}", event_time)
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 3]))):
        where = draw(st.sampled_from(["top", "top", "user", "user", "custom"]))
        target: dict[str, Any] = event
        keys = TOP_LEVEL_KEYS
        if where != "top":
            name = "user_data" if where == "user" else "custom_data"
            nested = event.get(name)
            if not isinstance(nested, dict):
                nested = event[name] = {}
            target = nested
            keys = USER_KEYS if where == "user" else CUSTOM_KEYS
        key = draw(st.sampled_from(keys) | NASTY_TEXT)
        value = draw(
            st.one_of(
                st.just(_ABSENT),
                NASTY,
                GOOD_USER_VALUES,
                st.lists(GOOD_USER_VALUES, max_size=3),
                st.sampled_from(
                    [
                        str(NOW),
                        NOW - 8 * 86400,
                        NOW * 1000,
                        NOW + 10_000,
                        "USD",
                        "XXX",
                        ["LDU"],
                        1000,
                        "whatsapp",
                        "website",
                        dict(APP_DATA),
                    ]
                ),
            )
        )
        if value is _ABSENT:
            target.pop(key, None)
        else:
            target[key] = value
    return event


def dumps(value: Any, *, ascii_only: bool = True) -> bytes:
    """JSON as Python's json module writes it: NaN/Infinity literals, big integers, lone
    surrogates escaped (``ascii_only``) or written raw as invalid UTF-8."""
    markers: dict[str, str] = {}

    def replace(v: Any) -> Any:
        if isinstance(v, Deep):
            token = f"@@DEEP{len(markers)}@@"
            markers[token] = v.raw()
            return token
        if isinstance(v, dict):
            return {k: replace(x) for k, x in v.items()}
        if isinstance(v, list):
            return [replace(x) for x in v]
        return v

    text = json.dumps(replace(value), ensure_ascii=ascii_only, allow_nan=True)
    for token, raw in markers.items():
        text = text.replace(json.dumps(token), raw)
    return text.encode("utf-8", "surrogatepass")


CONTENT_TYPES = st.sampled_from(
    [
        b"application/json",
        b"application/json; charset=utf-8",
        b"application/json; charset=latin-1",
        b"application/json; charset=utf-16",
        b"application/json; charset=\xff\xfe",
        b"APPLICATION/JSON",
        b"application/json;;;",
        b"application/x-www-form-urlencoded",
        b"application/x-www-form-urlencoded; charset=iso-8859-1",
        b"application/x-www-form-urlencoded; charset=no-such-charset",
        b"multipart/form-data",
        b"multipart/form-data; boundary=",
        b"multipart/form-data; boundary=XX",
        b"multipart/form-data; boundary=XX; charset=no-such-charset",
        b"multipart/form-data; boundary=XX; charset=utf-16",
        b"multipart/form-data; boundary=XX; charset=latin-1",
        b"text/plain",
        b"text/plain; charset=\xe9",
        b"",
        b"application/xml",
        b"*/*",
        b"application/octet-stream",
    ]
)


# the properties -----------------------------------------------------------------------------


def test_random_bytes_with_random_content_types(gw: FuzzGateway) -> None:
    @settings(FUZZ, max_examples=40)
    @given(
        body=st.binary(max_size=600)
        | st.sampled_from(
            [
                b"\xff\xfe\xfd",
                b"\xed\xa0\x80",
                b"\xef\xbb\xbf{}",
                b'{"data":[' * 50,
                b'--XX\r\nContent-Disposition: form-data; name="data"\r\n\r\n[]\r\n--XX--\r\n',
                b"data=%ff%fe&access_token=%00",
            ]
        ),
        content_type=CONTENT_TYPES
        | st.binary(max_size=40).filter(lambda b: not set(b) & set(b"\r\n\x00")),
        token=st.booleans(),
    )
    def run(body: bytes, content_type: bytes, token: bool) -> None:
        gw.post(_target(gw, token), content=body, headers=[(b"content-type", content_type)])

    run()
    gw.assert_nothing_lost()


def test_random_json_values(gw: FuzzGateway) -> None:
    @settings(FUZZ, max_examples=50)
    @given(
        value=st.one_of(
            JSON_VALUES,
            st.fixed_dictionaries({"data": JSON_VALUES}),
            st.fixed_dictionaries({"data": st.lists(JSON_VALUES, min_size=1, max_size=4)}),
            st.fixed_dictionaries(
                {"data": JSON_VALUES.map(lambda v: json.dumps(v, allow_nan=True))}
            ),
            st.fixed_dictionaries(
                {"data": st.lists(JSON_VALUES, max_size=3)},
                optional={
                    "access_token": NASTY,
                    "test_event_code": NASTY,
                    "partner_agent": NASTY,
                    "namespace_id": NASTY,
                    "upload_id": NASTY,
                },
            ),
            DEEP,
        ),
        ascii_only=st.booleans(),
        token=st.booleans(),
    )
    def run(value: Any, ascii_only: bool, token: bool) -> None:
        gw.post(
            _target(gw, token),
            content=dumps(value, ascii_only=ascii_only),
            headers=[(b"content-type", b"application/json")],
        )

    run()
    gw.assert_nothing_lost()


ENCODINGS = st.sampled_from(
    ["json", "json-data-string", "json-element-strings", "form", "multipart", "query"]
)


def _encode(
    gw: FuzzGateway, data: list[Any], encoding: str, extra: dict[str, str]
) -> tuple[str, bytes, list[tuple[bytes, bytes]]]:
    target = _target(gw)
    if encoding == "json":
        return target, dumps({"data": data, **extra}), [(b"content-type", b"application/json")]
    if encoding == "json-data-string":
        params = {"data": dumps(data).decode("utf-8", "surrogatepass"), **extra}
        return target, dumps(params), [(b"content-type", b"application/json")]
    if encoding == "json-element-strings":
        strings = [dumps(e).decode("utf-8", "surrogatepass") for e in data]
        return target, dumps({"data": strings, **extra}), [(b"content-type", b"application/json")]
    data_text = dumps(data).decode("utf-8", "surrogatepass")
    if encoding == "form":
        body = urlencode({"data": data_text, **extra}, errors="surrogatepass").encode()
        return target, body, [(b"content-type", b"application/x-www-form-urlencoded")]
    if encoding == "multipart":
        parts = b"".join(
            b'--XX\r\nContent-Disposition: form-data; name="'
            + name.encode()
            + b'"\r\n\r\n'
            + value.encode("utf-8", "surrogatepass")
            + b"\r\n"
            for name, value in {"data": data_text, **extra}.items()
        )
        return (
            target,
            parts + b"--XX--\r\n",
            [(b"content-type", b"multipart/form-data; boundary=XX")],
        )
    query = urlencode({"data": data_text, **extra}, errors="surrogatepass")
    return f"{target}&{query}", b"", []


def test_events_with_random_fields_in_every_encoding(gw: FuzzGateway) -> None:
    @settings(FUZZ, max_examples=120)
    @given(
        data=st.lists(events(), min_size=1, max_size=5),
        encoding=ENCODINGS,
        extra=st.dictionaries(
            st.sampled_from(
                ["test_event_code", "partner_agent", "namespace_id", "upload_tag", "platforms"]
            ),
            st.text(max_size=300),
            max_size=2,
        ),
    )
    def run(data: list[Any], encoding: str, extra: dict[str, str]) -> None:
        target, body, headers = _encode(gw, data, encoding, extra)
        if encoding == "query" and len(target) > 6000:
            return
        gw.post(target, content=body, headers=headers, sent_events=data)

    run()
    gw.assert_nothing_lost()
    # The strategies must reach both sides of the validators, not only the error paths.
    assert gw.statuses.get(200, 0) >= 10, gw.statuses
    assert gw.statuses.get(400, 0) >= 10, gw.statuses


def _one_segment(text: str) -> bool:
    """A path segment that stays one segment (no '/', not a dot segment the client folds)."""
    return "/" not in text and text not in (".", "..")


def test_random_query_strings_paths_and_headers(gw: FuzzGateway) -> None:
    raw_pairs = st.lists(
        st.tuples(
            st.sampled_from([b"access_token", b"data", b"test_event_code", b"upload_id"])
            | st.binary(max_size=12),
            st.binary(max_size=40),
        ),
        max_size=4,
    )

    @settings(FUZZ, max_examples=60)
    @given(
        pairs=raw_pairs,
        version=st.sampled_from(["v26.0", "v1.0", "v26", "latest", "v999.99", "v26.0.0"])
        | st.text(min_size=1, max_size=10).filter(_one_segment),
        dataset=st.sampled_from([DATASET, "0", "x" * 300])
        | st.text(min_size=1, max_size=20).filter(_one_segment),
        token_in=st.sampled_from(["query", "bearer", "none", "garbage-bearer"]),
        authorization=st.binary(max_size=60).filter(lambda b: not set(b) & set(b"\r\n\x00")),
        content_length=st.none() | st.text(alphabet="0123456789+- x²٢", min_size=1, max_size=25),
    )
    def run(
        pairs: list[tuple[bytes, bytes]],
        version: str,
        dataset: str,
        token_in: str,
        authorization: bytes,
        content_length: str | None,
    ) -> None:
        body = dumps({"data": [{"event_name": "Lead", "event_time": NOW, "action_source": "email",
                               "user_data": {"em": "a@example.com"}}]})  # fmt: skip
        query = "&".join(
            quote_from_bytes(k, safe="") + "=" + quote_from_bytes(v, safe="%") for k, v in pairs
        )
        headers = [(b"content-type", b"application/json")]
        if token_in == "query":
            query += f"&access_token={gw.key}"
        elif token_in == "bearer":
            headers.append((b"authorization", b"Bearer " + gw.key.encode()))
        elif token_in == "garbage-bearer":
            headers.append((b"authorization", authorization))
        if content_length is not None:
            headers.append((b"content-length", content_length.encode()))
        path = f"/{quote(version, safe='')}/{quote(dataset, safe='')}/events"
        gw.post(f"{path}?{query}", content=body, headers=headers)

    run()
    gw.assert_nothing_lost()


def test_random_multipart_bodies(gw: FuzzGateway) -> None:
    @settings(FUZZ, max_examples=40)
    @given(
        fields=st.lists(
            st.tuples(
                st.sampled_from(["data", "access_token", "test_event_code", "data", "x"]),
                st.binary(max_size=200)
                | st.lists(events(), min_size=1, max_size=2).map(lambda d: dumps(d)),
            ),
            max_size=4,
        ),
        charset=st.sampled_from(
            ["utf-8", "latin-1", "utf-16", "ascii", "cp1252", "utf-7", "unicode_escape", "nope", ""]
        ),
        with_token_field=st.booleans(),
        filename=st.booleans(),
    )
    def run(
        fields: list[tuple[str, bytes]], charset: str, with_token_field: bool, filename: bool
    ) -> None:
        if with_token_field:
            fields = [*fields, ("access_token", gw.key.encode())]
        parts = b"".join(
            b'--XX\r\nContent-Disposition: form-data; name="'
            + name.encode()
            + (b'"; filename="f.json' if filename and name == "data" else b"")
            + b'"\r\n\r\n'
            + value
            + b"\r\n"
            for name, value in fields
        )
        content_type = b"multipart/form-data; boundary=XX"
        if charset:
            content_type += b"; charset=" + charset.encode()
        gw.post(
            _target(gw, token=False),
            content=parts + b"--XX--\r\n",
            headers=[(b"content-type", content_type)],
        )

    run()
    gw.assert_nothing_lost()
