"""The Graph-compatible ingest endpoint: ``POST /{version}/{dataset_id}/events``.

Existing Conversions API code works by changing the host: the request is decoded as Meta
decodes it (:mod:`signalyard.sources.graph_wire`), the ``access_token`` is a Signalyard ingest
key for the dataset, and the answer has Meta's shape (``events_received``, ``messages``,
``fbtrace_id``) or Meta's error shape, with a message naming the event index, field and rule.
"""

from __future__ import annotations

import base64
import logging
import os
from collections import OrderedDict
from typing import Any

import orjson
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response

from signalyard.clock import Clock
from signalyard.errors import AuthError, InputError, TooLarge
from signalyard.sources import graph_wire
from signalyard.sources.auth import KeyChecker
from signalyard.sources.body import BodyReader, error_headers
from signalyard.sources.ingest import Ingestor
from signalyard.store.base import Dataset, Store

log = logging.getLogger("signalyard.ingest")
DATASET_CACHE_SECONDS = 5.0
MAX_CACHED_DATASETS = 10_000
"""Datasets the endpoint remembers at once (the least recently used go first)."""
_HEADERS = {"cache-control": "private, no-cache, no-store, must-revalidate"}


def trace_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(9)).decode()


def json_response(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        headers={**_HEADERS, **headers} if headers else _HEADERS,
        media_type="application/json",
    )


def graph_error(error: InputError, trace: str) -> Response:
    body: dict[str, Any] = {
        "message": f"(#{error.code}) {error.message}",
        "type": "OAuthException",
        "code": error.code,
        "is_transient": error.status in (408, 503),
        "error_user_title": error.title or _title(error),
        "error_user_msg": error.message,
        "fbtrace_id": trace,
    }
    if error.subcode is not None:
        body["error_subcode"] = error.subcode
    return json_response({"error": body}, error.status, error_headers(error))


def _title(error: InputError) -> str:
    if isinstance(error, AuthError):
        return "Invalid access token"
    if isinstance(error, TooLarge):
        return "Request too large"
    return "Invalid parameter"


async def _multipart(request: Request, body: bytes) -> dict[str, str]:
    async def stream() -> Any:
        yield body

    parser = MultiPartParser(
        request.headers, stream(), max_files=0, max_fields=200, max_part_size=len(body) + 1
    )
    try:
        form = await parser.parse()
    except MultiPartException as error:
        raise InputError("body", f"malformed multipart body: {error.message}") from None
    out: dict[str, str] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise InputError(key, "file uploads are not accepted; send data as a field")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(key, "is not valid text in its declared charset") from None
        out[key] = value
    return out


class GraphEndpoint:
    def __init__(
        self,
        store: Store,
        ingestor: Ingestor,
        keys: KeyChecker,
        clock: Clock,
        *,
        max_body_bytes: int,
        max_events: int,
        bodies: BodyReader,
    ) -> None:
        self.store = store
        self.ingestor = ingestor
        self.keys = keys
        self.clock = clock
        self.max_body_bytes = max_body_bytes
        self.max_events = max_events
        self.bodies = bodies
        self._datasets: OrderedDict[str, tuple[float, Dataset]] = OrderedDict()
        """Datasets that exist, for a few seconds each, least recently used first; a miss is
        never kept (any key holder can ask for any number of ids)."""

    async def _dataset(self, dataset_id: str) -> Dataset | None:
        now = self.clock.monotonic()
        cached = self._datasets.get(dataset_id)
        if cached is not None and cached[0] >= now:
            self._datasets.move_to_end(dataset_id)
            return cached[1]
        dataset = await self.store.get_dataset(dataset_id)
        if dataset is None:
            self._datasets.pop(dataset_id, None)
            return None
        self._datasets[dataset_id] = (now + DATASET_CACHE_SECONDS, dataset)
        self._datasets.move_to_end(dataset_id)
        while len(self._datasets) > MAX_CACHED_DATASETS:
            self._datasets.popitem(last=False)
        return dataset

    async def handle(self, request: Request) -> Response:
        trace = trace_id()
        try:
            return await self._handle(request, trace)
        except InputError as error:
            return graph_error(error, trace)
        except Exception:
            # A bug, not bad input: answer as Graph does for its own failures (transient, so
            # clients retry; nothing was acknowledged).
            log.exception("Ingest failed. trace=%s", trace)
            return json_response(
                {
                    "error": {
                        "message": "An unexpected error has occurred. Please retry your"
                        " request later.",
                        "type": "OAuthException",
                        "code": 2,
                        "is_transient": True,
                        "fbtrace_id": trace,
                    }
                },
                500,
            )

    async def _authorize(self, token: str | None, dataset_id: str) -> Dataset:
        """The dataset ``token`` may send to. A current key on a dataset that does not exist
        is Graph's 100/33 (as Meta answers a valid token on a missing object); an unknown
        key learns nothing about which datasets exist (190)."""
        key = await self.keys.find(token)
        dataset = await self._dataset(dataset_id)
        if dataset is None:
            raise InputError(
                "dataset_id",
                f"unsupported post request: object with ID '{dataset_id}' does not exist"
                " (no dataset of that id on this gateway)",
                code=100,
                subcode=33,
                title="Unsupported request",
            )
        self.keys.check_dataset(key, dataset_id)
        return dataset

    async def _handle(self, request: Request, trace: str) -> Response:
        version = request.path_params["version"]
        dataset_id = request.path_params["dataset_id"]
        graph_wire.check_version(version)
        headers = request.headers
        # A key in the query or the Authorization header is checked before a byte of the
        # body is read: nobody without one makes the server read (and hold) a body.
        early = graph_wire.token_outside_body(request.query_params, headers.get("authorization"))
        dataset = await self._authorize(early, dataset_id) if early else None
        keyed = dataset is not None  # may use the budget kept for checked keys
        async with self.bodies.read(request, self.max_body_bytes, keyed=keyed) as body:
            content_type = headers.get("content-type", "")
            async with self.bodies.turns.decode(len(body)):
                fields = None
                if content_type.lower().startswith("multipart/form-data"):
                    fields = await _multipart(request, body)
                params = graph_wire.parse_body(content_type, body, fields)
                wire = graph_wire.decode(
                    params,
                    request.query_params,
                    headers.get("authorization"),
                    max_events=self.max_events,
                )
            if dataset is None or wire.access_token != early:
                # The token was in the body (or another one is there too: it must pass too).
                dataset = await self._authorize(wire.access_token, dataset_id)
            result = await self.ingestor.ingest(
                wire.data,
                dataset,
                source="graph_api",
                test_event_code=wire.params.get("test_event_code"),
            )
        log.debug(
            "Events received. dataset=%s received=%d stored=%d",
            dataset_id,
            result.received,
            result.stored,
        )
        return json_response(
            {
                "events_received": result.received,
                "messages": list(result.messages),
                "fbtrace_id": trace,
            }
        )
