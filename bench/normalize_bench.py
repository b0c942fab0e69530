"""Normalize + hash, single-threaded: Signalyard's ``clean_event`` against the official SDK.

The same events (full customer data, distinct values: see :mod:`workload`) go through:

- Signalyard: :func:`signalyard.transforms.pipeline.clean_event` (validation, enrichment,
  normalization, phones to E.164 with the default country US, SHA-256; as installed, so
  compiled with mypyc unless built without it: ``transforms_compiled`` says which), then
  ``orjson.dumps`` of the cleaned event (what the store writes), unless ``clean_event``
  already encoded it (an ``AcceptedEvent.encoded`` that is set);
- the official ``facebook_business`` SDK building the same request: ``UserData``,
  ``CustomData`` (with ``Content``), ``Event`` and ``EventRequest`` from the raw values,
  then ``EventRequest.normalize()`` (its normalization, SHA-256 and ``json.dumps`` of each
  event: the body it would send).

Work is done in chunks of 1000 events (one full request); each chunk is generated untimed,
then timed through both, alternating which goes first, so that both see the same machine
conditions. Each event is cleaned once: caches see only distinct values.
"""

from __future__ import annotations

import gc
import time
import types
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import orjson
import workload

from signalyard import gc_tuning
from signalyard.transforms.pipeline import clean_event

HASHED = ("em", "ph", "fn", "ln", "ct", "st", "zp", "country", "db", "ge", "external_id")
CHUNK = 1000


@dataclass
class NormalizeResult:
    events: int
    signalyard_events_per_second: float
    """clean_event + orjson.dumps of the result (unless clean_event encodes it itself)."""
    signalyard_clean_only_events_per_second: float
    encoded_by_clean_event: bool
    """True when clean_event returns the event already encoded (no separate dumps)."""
    sdk_events_per_second: float | None
    sdk_version: str | None
    warnings: int
    """Warnings raised by clean_event on this data (0: every value was usable)."""
    email_hashes_agree: float | None
    """Share of events whose em hash is the same in both (a check that both did the work)."""
    transforms_compiled: bool = False
    """True when clean_event is the mypyc-compiled build (setup.py), not pure Python."""

    @property
    def ratio_vs_sdk(self) -> float | None:
        if not self.sdk_events_per_second:
            return None
        return self.signalyard_events_per_second / self.sdk_events_per_second

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        for key in (
            "signalyard_events_per_second",
            "signalyard_clean_only_events_per_second",
            "sdk_events_per_second",
        ):
            if data[key] is not None:
                data[key] = round(data[key], 1)
        ratio = self.ratio_vs_sdk
        data["ratio_vs_sdk"] = None if ratio is None else round(ratio, 2)
        return data


def _new_id() -> str:
    raise AssertionError("every benchmark event has an event_id")


def signalyard_chunk(events: list[dict[str, Any]], now: float) -> tuple[float, float, list[Any]]:
    """(seconds cleaning, seconds serializing, cleaned events)."""
    clock = time.perf_counter
    start = clock()
    cleaned = [
        clean_event(
            raw,
            dataset_id=workload.DATASET_ID,
            default_country=workload.DEFAULT_COUNTRY,
            now=now,
            new_id=_new_id,
        )
        for raw in events
    ]
    middle = clock()
    if cleaned and getattr(cleaned[0], "encoded", None) is None:
        dumps = orjson.dumps
        for event in cleaned:
            dumps(event.payload)
    return middle - start, clock() - middle, cleaned


def sdk_builder() -> tuple[Callable[[list[dict[str, Any]]], list[str]], str] | None:
    """A function building and normalizing the SDK's EventRequest for a list of raw events,
    and the SDK's version; ``None`` when the SDK is not installed."""
    try:
        from facebook_business import __version__ as sdk_version
        from facebook_business.adobjects.serverside.action_source import ActionSource
        from facebook_business.adobjects.serverside.content import Content
        from facebook_business.adobjects.serverside.custom_data import CustomData
        from facebook_business.adobjects.serverside.event import Event
        from facebook_business.adobjects.serverside.event_request import EventRequest
        from facebook_business.adobjects.serverside.gender import Gender
        from facebook_business.adobjects.serverside.user_data import UserData
    except ImportError:
        return None
    genders = {"m": Gender.MALE, "male": Gender.MALE, "f": Gender.FEMALE, "female": Gender.FEMALE}

    def build(events: list[dict[str, Any]]) -> list[str]:
        sdk_events = []
        for raw in events:
            u = raw["user_data"]
            c = raw["custom_data"]
            user_data = UserData(
                emails=[u["em"]],
                phones=[u["ph"]],
                first_names=[u["fn"]],
                last_names=[u["ln"]],
                cities=[u["ct"]],
                states=[u["st"]],
                zip_codes=[u["zp"]],
                country_codes=[u["country"]],
                dates_of_birth=[u["db"]],
                genders=[genders[u["ge"].lower()]],
                external_ids=[u["external_id"]],
                client_ip_address=u["client_ip_address"],
                client_user_agent=u["client_user_agent"],
                fbc=u["fbc"],
                fbp=u["fbp"],
            )
            custom_data = CustomData(
                currency=c["currency"],
                value=c["value"],
                content_type=c["content_type"],
                order_id=c["order_id"],
                contents=[
                    Content(product_id=x["id"], quantity=x["quantity"], item_price=x["item_price"])
                    for x in c["contents"]
                ],
            )
            sdk_events.append(
                Event(
                    event_name=raw["event_name"],
                    event_time=raw["event_time"],
                    event_id=raw["event_id"],
                    event_source_url=raw["event_source_url"],
                    action_source=ActionSource(raw["action_source"]),
                    user_data=user_data,
                    custom_data=custom_data,
                )
            )
        request = EventRequest(pixel_id=workload.DATASET_ID, events=sdk_events)
        normalized: list[str] = request.normalize()
        return normalized

    return build, str(sdk_version)


def run(seconds: float, *, run_id: str, max_events: int = 2_000_000) -> NormalizeResult:
    """About ``seconds`` of timed work in total (both sides), in 1000-event chunks."""
    sdk = sdk_builder()
    build, sdk_version = sdk if sdk is not None else (None, None)
    now = time.time()
    # Warm-up (lookup tables built on first use by both), not counted.
    warm = workload.make_events(run_id + "-warm", 0, CHUNK)
    signalyard_chunk(warm, now)
    if build is not None:
        build(warm)
    # The garbage-collector settings of a Signalyard process (signalyard.gc_tuning), for both
    # sides alike: long-lived tables frozen, young collections less often.
    gc_tuning.tune()

    ours_clean = ours_dump = theirs = 0.0
    events = warnings = 0
    agree: float | None = None
    encoded_inside = False
    chunk_index = 0
    while ours_clean + ours_dump + theirs < seconds and events < max_events:
        chunk = workload.make_events(run_id, chunk_index * CHUNK, CHUNK)
        # Both sides are timed with the collector paused and run between chunks: this
        # measures the normalize+hash work itself, not when a collection happens to fall.
        gc.collect()
        gc.disable()
        sdk_first = chunk_index % 2 == 1
        sdk_out: list[str] | None = None
        if build is not None and sdk_first:
            start = time.perf_counter()
            sdk_out = build(chunk)
            theirs += time.perf_counter() - start
        clean_s, dump_s, cleaned = signalyard_chunk(chunk, now)
        ours_clean += clean_s
        ours_dump += dump_s
        if build is not None and not sdk_first:
            start = time.perf_counter()
            sdk_out = build(chunk)
            theirs += time.perf_counter() - start
        gc.enable()
        for event in cleaned:
            warnings += len(event.warnings)
            missing = [k for k in HASHED if k not in event.payload["user_data"]]
            if missing:
                raise AssertionError(f"{event.event_id}: {missing} dropped")
        encoded_inside = getattr(cleaned[0], "encoded", None) is not None
        if chunk_index == 0 and sdk_out is not None:
            same = sum(
                orjson.loads(s)["user_data"]["em"] == e.payload["user_data"]["em"]
                for s, e in zip(sdk_out, cleaned, strict=True)
            )
            agree = same / len(cleaned)
        events += len(chunk)
        chunk_index += 1
    return NormalizeResult(
        events=events,
        signalyard_events_per_second=events / (ours_clean + ours_dump),
        signalyard_clean_only_events_per_second=events / ours_clean,
        encoded_by_clean_event=encoded_inside,
        sdk_events_per_second=events / theirs if build is not None else None,
        sdk_version=sdk_version,
        warnings=warnings,
        email_hashes_agree=agree,
        transforms_compiled=not isinstance(clean_event, types.FunctionType),
    )
