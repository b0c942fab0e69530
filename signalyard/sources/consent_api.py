"""``POST /consent/{dataset_id}``: consent that arrives later, from a server (a CRM, a
consent-management platform's webhook, the shop's back end), for events held until it came.

Authenticated with an ingest key of the dataset (``access_token`` in the query, or
``Authorization: Bearer``). Body, JSON::

    {"subject": "customer-42", "state": "granted", "source": "api"}
    {"fbp": "fb.1.1700000000000.123", "state": "denied"}

``subject`` is the same value the held events carried as ``consent.subject``; ``fbp`` names
a browser (the default subject of events that carried it). Both are hashed at once, never
stored. The held events of that subject are decided again by each destination's policy
(see docs/consent.md). Answer: ``{"released": n, "dropped": n, "still_held": n}``.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from signalyard.clock import Clock
from signalyard.errors import InputError
from signalyard.event import Consent
from signalyard.sources.auth import KeyChecker
from signalyard.sources.body import BodyReader, error_headers
from signalyard.sources.ingest import Ingestor
from signalyard.store.base import Store
from signalyard.transforms.consent import parse_consent, subject_key

__all__ = ["ConsentEndpoint"]

_MAX_BODY = 4096


def _answer(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


class ConsentEndpoint:
    def __init__(
        self,
        store: Store,
        ingestor: Ingestor,
        keys: KeyChecker,
        clock: Clock,
        *,
        bodies: BodyReader,
    ) -> None:
        self.store = store
        self.ingestor = ingestor
        self.keys = keys
        self.clock = clock
        self.bodies = bodies

    async def handle(self, request: Request) -> Response:
        dataset_id = request.path_params["dataset_id"]
        try:
            token = request.query_params.get("access_token")
            authorization = request.headers.get("authorization", "")
            if token is None and authorization.lower().startswith("bearer "):
                token = authorization[7:].strip()
            await self.keys.check(token, dataset_id)
            async with self.bodies.read(request, _MAX_BODY, keyed=True) as raw:
                try:
                    body = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    raise InputError("body", "must be a JSON object") from None
            if not isinstance(body, dict):
                raise InputError("body", "must be a JSON object")
            subject = _subject(body)
            given = parse_consent(
                {"state": body.get("state"), "source": body.get("source") or "api"}
            )
            if given.state not in ("granted", "denied"):
                raise InputError("state", "must be granted or denied")
            update = await self.store.update_consent(
                dataset_id,
                subject,
                Consent(state=given.state, source=given.source),
                now=self.clock.now(),
            )
        except InputError as error:
            return _answer(
                {"error": {"message": error.message, "field": error.field, "rule": error.rule}},
                error.status,
                error_headers(error),
            )
        if update.released:
            self.ingestor.wake_delivery()
        return _answer(
            {
                "released": update.released,
                "dropped": update.dropped,
                "still_held": update.still_held,
            }
        )


def _subject(body: dict[str, Any]) -> str:
    subject, fbp = body.get("subject"), body.get("fbp")
    if (subject is None) == (fbp is None):
        raise InputError("subject", "send exactly one of subject or fbp")
    value = subject if subject is not None else fbp
    field = "subject" if subject is not None else "fbp"
    if not isinstance(value, str) or not 0 < len(value.strip()) <= 256:
        raise InputError(field, "must be a string of 1 to 256 characters")
    return subject_key(value, field)
