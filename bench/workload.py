"""Synthetic server events with full customer data, and the HTTP requests that carry them.

Every event is distinct: its ``event_id`` and every per-person value (email, phone, names,
city, ZIP, date of birth, external id, IP address, fbc, fbp) differ from one event to the next,
so no cache in the ingest path (phone parsing, city hashing, dedup) is hit by repetition.
Values that are naturally few (state, country, gender, user agent) come from small pools, as
they do in real traffic. Phones are half national US numbers (``(650) 555-0123``, completed
to E.164 with the default country US) and half international numbers of other countries
(``+44 7400 123456``). The values are accepted by both Signalyard and the official
``facebook_business`` SDK (which rejects, for instance, phones written with dots).

Generation is deterministic for a given ``run`` prefix and index range.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Iterator
from typing import Any

import orjson
import phonenumbers

DATASET_ID = "1234567890"
API_VERSION = "v26.0"
DEFAULT_COUNTRY = "US"

_SYLLABLES = (
    "an", "bel", "cor", "da", "el", "fin", "gar", "hal", "is", "jo", "ka", "lin", "mar",
    "nor", "ol", "per", "quin", "ros", "sam", "tor", "ul", "val", "wen", "xa", "yor", "zel",
    "bri", "cas", "dem", "fra", "gil", "hen",
)  # fmt: skip
_DOMAINS = ("example.com", "Example.org", "mail.example.net", "shop.example.io")
_US_AREA_CODES = (
    "201", "212", "213", "305", "312", "404", "415", "503", "512", "602", "617", "646",
    "650", "702", "713", "718", "808", "917", "919", "971",
)  # fmt: skip
_STATES = ("California", "CA", "New York", "ny", "Texas", "TX", "Florida", "wa", "Illinois")
_INTERNATIONAL = ("GB", "FR", "DE", "VN", "IN", "BR", "AU", "ES", "IT", "NL")
_GENDERS = ("m", "f", "Male", "Female")
_USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/126.0.0.0 Mobile Safari/537.36",
)
_ZIP_FORMATS = {
    "GB": "SW{0} {1}AB",
    "FR": "75{0:03d}",
    "DE": "10{0:03d}",
    "VN": "700{0:03d}",
    "IN": "110{0:03d}",
    "BR": "01{0:03d}-000",
    "AU": "2{0:03d}",
    "ES": "28{0:03d}",
    "IT": "00{0:03d}",
    "NL": "10{0:02d} AB",
}


def _word(n: int, parts: int) -> str:
    """A pronounceable, letters-only word, distinct for each ``n`` below 32**parts."""
    out = []
    for _ in range(parts):
        n, r = divmod(n, len(_SYLLABLES))
        out.append(_SYLLABLES[r])
    return "".join(out).capitalize()


@functools.cache
def _phone_template(region: str) -> tuple[str, tuple[int, ...]]:
    """The example mobile number of ``region`` as written internationally, and the positions
    of its last five digits (replaced to make distinct numbers of the same valid shape)."""
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None
    text = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    digits = tuple(i for i, ch in enumerate(text) if ch.isdigit())
    return text, digits[-5:]


def _international_phone(region: str, n: int) -> str:
    text, positions = _phone_template(region)
    chars = list(text)
    for position, digit in zip(positions, f"{n % 100_000:05d}", strict=True):
        chars[position] = digit
    return "".join(chars)


def make_event(run: str, i: int, now: int, rng: random.Random) -> dict[str, Any]:
    """Event ``i`` of the run: a website Purchase with full customer data."""
    first = _word(i, 2)
    last = _word(i // 7 + 13, 3)
    us = i % 2 == 0
    region = DEFAULT_COUNTRY if us else _INTERNATIONAL[(i // 2) % len(_INTERNATIONAL)]
    if us:
        area = _US_AREA_CODES[i % len(_US_AREA_CODES)]
        exchange = 200 + (i // 20) % 800
        phone = (
            f"({area}) {exchange}-{rng.randrange(10_000):04d}"
            if i % 4 == 0
            else f"{area}-{exchange}-{rng.randrange(10_000):04d}"
        )
        zp = f"{(i * 7919) % 100_000:05d}"
        country = "US"
    else:
        phone = _international_phone(region, i)
        zp = _ZIP_FORMATS[region].format(i % 100, i % 10)
        country = region
    year, month, day = 1950 + i % 55, 1 + i % 12, 1 + i % 28
    db = f"{year}{month:02d}{day:02d}" if i % 3 else f"{year}-{month:02d}-{day:02d}"
    ms = now * 1000 - rng.randrange(86_400_000)
    if i % 4 == 3:
        ip = f"2001:db8:{i >> 16 & 0xFFFF:x}:{i & 0xFFFF:x}::{rng.randrange(1, 0xFFFF):x}"
    else:
        ip = f"{11 + i % 200}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
    value = round(5 + rng.random() * 300, 2)
    return {
        "event_name": "Purchase",
        "event_time": now - rng.randrange(3600),
        "event_id": f"{run}-{i}",
        "action_source": "website",
        "event_source_url": f"https://shop.example.com/checkout/thank-you?order={i}",
        "user_data": {
            "em": f"{first}.{last}{i}@{_DOMAINS[i % len(_DOMAINS)]}",
            "ph": phone,
            "fn": first,
            "ln": last,
            "ct": f"{_word(i, 3)} City" if i % 5 == 0 else _word(i + 5, 3),
            "st": _STATES[i % len(_STATES)],
            "zp": zp,
            "country": country,
            "db": db,
            "ge": _GENDERS[i % len(_GENDERS)],
            "external_id": f"customer-{run}-{i}",
            "client_ip_address": ip,
            "client_user_agent": _USER_AGENTS[i % len(_USER_AGENTS)],
            "fbc": f"fb.1.{ms}.IwAR{i:08x}{rng.getrandbits(40):010x}",
            "fbp": f"fb.1.{ms}.{rng.randrange(10**9, 10**10)}",
        },
        "custom_data": {
            "currency": "USD",
            "value": value,
            "content_type": "product",
            "contents": [{"id": f"SKU-{i % 5000}", "quantity": 1 + i % 3, "item_price": value}],
            "order_id": f"ORDER-{run}-{i}",
        },
    }


def make_events(run: str, start: int, count: int, *, seed: int = 1) -> list[dict[str, Any]]:
    """``count`` distinct events, indices ``start`` to ``start + count - 1``."""
    rng = random.Random(seed * 1_000_003 + start)
    now = int(time.time())
    return [make_event(run, i, now, rng) for i in range(start, start + count)]


def request_bytes(host: str, port: int, key: str, events: list[dict[str, Any]]) -> bytes:
    """A complete keep-alive HTTP/1.1 request posting ``events`` to the Graph endpoint."""
    body = orjson.dumps({"data": events, "access_token": key})
    head = (
        f"POST /{API_VERSION}/{DATASET_ID}/events HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    ).encode()
    return head + body


def requests(
    host: str,
    port: int,
    key: str,
    *,
    run: str,
    start: int,
    count: int,
    events_per_request: int,
) -> Iterator[bytes]:
    """``count`` requests of ``events_per_request`` distinct events each."""
    for r in range(count):
        first = start + r * events_per_request
        yield request_bytes(host, port, key, make_events(run, first, events_per_request))
