from __future__ import annotations

import copy

import pytest

from signalyard.transforms.enrich import enrich, fbclid_from_url

from .factory import NOW, event, ids

FBCLID = "IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk"


@pytest.mark.parametrize(
    ("url", "fbclid"),
    [
        (f"https://shop.example.com/p?fbclid={FBCLID}", FBCLID),
        (f"https://shop.example.com/p?utm_source=fb&fbclid={FBCLID}&x=1", FBCLID),
        (f"https://shop.example.com/p?fbclid={FBCLID}#section", FBCLID),
        ("https://shop.example.com/p?fbclid=AbC%2DdEf", "AbC-dEf"),  # percent-decoded only
        ("https://shop.example.com/p?fbclid=Ab+Cd", "Ab+Cd"),  # "+" is not a space here
        ("https://shop.example.com/p?fbclid=&fbclid=XyZ", "XyZ"),  # first non-empty one
        ("https://shop.example.com/p?xfbclid=XyZ", None),
        ("https://shop.example.com/p#fbclid=XyZ", None),
        ("https://shop.example.com/p", None),
    ],
)
def test_fbclid_from_url(url: str, fbclid: str | None) -> None:
    assert fbclid_from_url(url) == fbclid


def test_fbc_from_fbclid_keeps_its_case_and_uses_event_time_in_ms() -> None:
    raw = event(event_source_url=f"https://shop.example.com/?fbclid={FBCLID}")
    ev = copy.deepcopy(raw)
    messages = enrich(ev, now=NOW, new_id=ids())
    assert ev["user_data"]["fbc"] == f"fb.1.{raw['event_time'] * 1000}.{FBCLID}"
    assert messages == ["user_data.fbc: set from the fbclid in event_source_url"]


def test_enrich_does_not_change_nested_objects() -> None:
    raw = event(event_source_url=f"https://shop.example.com/?fbclid={FBCLID}", event_id="")
    user_data = raw["user_data"]
    before = copy.deepcopy(user_data)
    ev = dict(raw)
    enrich(ev, now=NOW, new_id=ids())
    assert "fbc" in ev["user_data"]
    assert raw["user_data"] is user_data
    assert user_data == before


@pytest.mark.parametrize("fbc", ["fb.1.1554763741205.Existing", "FB.weird"])
def test_an_existing_fbc_wins(fbc: str) -> None:
    ev = event(event_source_url=f"https://shop.example.com/?fbclid={FBCLID}")
    ev["user_data"]["fbc"] = fbc
    assert enrich(ev, now=NOW, new_id=ids()) == []
    assert ev["user_data"]["fbc"] == fbc


@pytest.mark.parametrize("fbc", [None, "", "  "])
def test_an_empty_fbc_is_replaced(fbc: str | None) -> None:
    ev = event(event_source_url=f"https://shop.example.com/?fbclid={FBCLID}")
    ev["user_data"]["fbc"] = fbc
    enrich(ev, now=NOW, new_id=ids())
    assert ev["user_data"]["fbc"].endswith(FBCLID)


def test_no_fbclid_no_fbc() -> None:
    ev = event()
    assert enrich(ev, now=NOW, new_id=ids()) == []
    assert "fbc" not in ev["user_data"]


def test_event_time_not_an_int_falls_back_to_now() -> None:
    ev = event(event_source_url="https://x.example/?fbclid=Q", event_time="1799999940")
    enrich(ev, now=NOW, new_id=ids())
    assert ev["user_data"]["fbc"] == f"fb.1.{int(NOW) * 1000}.Q"


@pytest.mark.parametrize("event_id", [None, "", "   "])
def test_missing_event_id_is_assigned(event_id: str | None) -> None:
    ev = event(event_id=event_id)
    if event_id is None:
        ev.pop("event_id", None)
    messages = enrich(ev, now=NOW, new_id=ids())
    assert ev["event_id"] == "id-1"
    assert len(messages) == 1
    assert messages[0].startswith("event_id: none given; assigned id-1")


@pytest.mark.parametrize("event_id", ["order-1001", 1001])
def test_given_event_id_is_kept(event_id: str | int) -> None:
    ev = event(event_id=event_id)
    assert enrich(ev, now=NOW, new_id=ids()) == []
    assert ev["event_id"] == event_id
