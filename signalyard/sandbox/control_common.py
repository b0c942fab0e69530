"""The control plane every sandbox serves under ``/_sandbox/`` (plain JSON, not shaped as
its platform's answers): inspection, reset and fault injection.

==========================  ======  ===========================================================
path                        method  what
==========================  ======  ===========================================================
``/_sandbox``               GET     the sandbox's name and its endpoints
``/_sandbox/events``        GET     recorded events, newest first; the platform's filters and
                                    ``limit`` (default 100)
``/_sandbox/summary``       GET     the platform's statistics
``/_sandbox/requests``      GET     recent requests (``limit``, the platform's filters)
``/_sandbox/state``         DELETE  forget the recordings (faults are kept)
``/_sandbox/faults``        GET     injected faults; POST adds one (object) or several (array,
                                    or ``{"faults": [...]}``); DELETE removes all
``/_sandbox/faults/{id}``   GET     one fault; DELETE removes it
==========================  ======  ===========================================================

A platform's ``control.py`` says what is its own: its endpoints' list, how the events and
requests are filtered, how a refused control body is told (:func:`refused_body`), and any
route of its own (Meta's simulated browser events).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..clock import Clock
from ..errors import InputError
from ..sources.body import BodyReader
from .bodies import MAX_CONTROL_BODY, read_body
from .faults_common import FaultBook, FaultSpecError

DEFAULT_LIMIT = 100
"""Events or requests listed when the query gives no ``limit``."""
FAULT_ENDPOINTS = {
    "GET|POST|DELETE /_sandbox/faults": "list, add, clear injected faults",
    "GET|DELETE /_sandbox/faults/{id}": "one fault",
}


class BadControlRequest(ValueError):
    def __init__(
        self, message: str, status: int = 400, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})


class Recorded(Protocol):
    def to_json(self) -> dict[str, Any]: ...


class ControlledState(Protocol):
    """What the control plane needs of a sandbox's state."""

    @property
    def max_events(self) -> int: ...

    @property
    def max_requests(self) -> int: ...

    @property
    def faults(self) -> FaultBook[Any]: ...

    def summary(self) -> dict[str, Any]: ...

    def reset(self) -> None: ...


Find = Callable[[Request, int], Sequence[Recorded]]
"""The platform's listing: ``(request, limit)`` -> what its query's filters select, newest
first; raises :class:`BadControlRequest` for a filter it cannot read."""
Refuse = Callable[[InputError], BadControlRequest]
"""How the platform tells a control body the reader refused (see :func:`refused_body`)."""


def control_json(body: Any, status: int = 200) -> Response:
    """Answers of the ``/_sandbox`` control plane (plain JSON, not the platform's shape)."""
    return Response(
        orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS),
        status_code=status,
        media_type="application/json",
    )


def error_json(
    message: str, status: int = 400, headers: Mapping[str, str] | None = None
) -> Response:
    response = control_json({"error": message}, status)
    response.headers.update(headers or {})
    return response


def limit_param(request: Request, default: int, maximum: int) -> int:
    """The query's ``limit``: ``default`` when absent, at most ``maximum``."""
    raw = request.query_params.get("limit")
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise BadControlRequest("limit must be a positive integer")
    return min(int(raw), maximum)


def query(request: Request, names: Sequence[str]) -> dict[str, str | None]:
    """The query parameters ``names`` (None where absent): filters on equal fields."""
    return {k: request.query_params.get(k) for k in names}


_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def bool_param(request: Request, name: str) -> bool | None:
    """The query's ``name`` as a filter: ``true``/``1`` or ``false``/``0`` (None if absent)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() not in _BOOLEANS:
        raise BadControlRequest(f"{name} must be true or false")
    return _BOOLEANS[raw.lower()]


async def read_json(bodies: BodyReader, request: Request, refuse: Refuse) -> Any:
    """The JSON body of a control request, at most :data:`MAX_CONTROL_BODY` bytes; a body
    the reader refuses raises ``refuse(error)``."""
    async with read_body(bodies, request, MAX_CONTROL_BODY, refuse) as data:
        if not data.strip():
            raise BadControlRequest("a JSON body is required")
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise BadControlRequest(f"body must be JSON ({exc})") from None


def refused_body(
    status: int, message: str, headers: Mapping[str, str], *, too_large: bool
) -> BadControlRequest:
    """A control body the reader refused (too large, too slow, no room, gone), with the
    status, message and headers of the platform's refusal of it."""
    if too_large:
        message = f"the body is larger than {MAX_CONTROL_BODY} bytes"
    return BadControlRequest(message, status, headers)


class Refusal(Protocol):
    """A platform's answer to a body its reader refused (its error exception)."""

    @property
    def status(self) -> int: ...
    @property
    def message(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...


def refused_as(answer: Callable[[InputError], Refusal]) -> Refuse:
    """A :class:`Control`'s ``refuse``: a control body the reader refused, told with the
    status, message and headers of the platform's ``answer`` to it (413: too large)."""

    def refuse(error: InputError) -> BadControlRequest:
        page = answer(error)
        return refused_body(page.status, page.message, page.headers, too_large=page.status == 413)

    return refuse


class Control:
    """The shared ``/_sandbox`` handlers of one sandbox (see :func:`control_routes`)."""

    def __init__(
        self,
        *,
        sandbox: str,
        endpoints: Mapping[str, str],
        state: ControlledState,
        clock: Clock,
        bodies: BodyReader,
        refuse: Refuse,
        find_events: Find,
        find_requests: Find,
    ) -> None:
        self.sandbox = sandbox
        self.endpoints = endpoints
        self.state = state
        self.clock = clock
        self.bodies = bodies
        self.refuse = refuse
        self.find_events = find_events
        self.find_requests = find_requests

    async def json_body(self, request: Request) -> Any:
        """A control request's JSON body (see :func:`read_json`)."""
        return await read_json(self.bodies, request, self.refuse)

    async def index(self, request: Request) -> Response:
        return control_json({"sandbox": self.sandbox, "endpoints": self.endpoints})

    async def events(self, request: Request) -> Response:
        try:
            limit = limit_param(request, DEFAULT_LIMIT, self.state.max_events)
            found = self.find_events(request, limit)
        except BadControlRequest as exc:
            return error_json(str(exc))
        return control_json({"count": len(found), "events": [e.to_json() for e in found]})

    async def summary(self, request: Request) -> Response:
        return control_json(self.state.summary())

    async def requests(self, request: Request) -> Response:
        try:
            limit = limit_param(request, DEFAULT_LIMIT, self.state.max_requests)
            found = self.find_requests(request, limit)
        except BadControlRequest as exc:
            return error_json(str(exc))
        return control_json({"count": len(found), "requests": [r.to_json() for r in found]})

    async def reset(self, request: Request) -> Response:
        self.state.reset()
        return control_json({"reset": True})

    async def faults(self, request: Request) -> Response:
        book = self.state.faults
        now = self.clock.now()
        if request.method == "DELETE":
            return control_json({"removed": book.clear()})
        if request.method == "POST":
            try:
                body = await self.json_body(request)
                if isinstance(body, dict) and isinstance(body.get("faults"), list):
                    body = body["faults"]
                if isinstance(body, list):
                    added = book.add_many(body, now)
                    return control_json({"faults": [f.to_json(now) for f in added]}, 201)
                fault = book.add(body, now)
            except BadControlRequest as exc:
                return error_json(str(exc), exc.status, exc.headers)
            except FaultSpecError as exc:
                return error_json(str(exc))
            return control_json({"fault": fault.to_json(now)}, 201)
        return control_json({"faults": [f.to_json(now) for f in book.faults()]})

    async def fault(self, request: Request) -> Response:
        fault_id = request.path_params["fault_id"]
        book = self.state.faults
        if request.method == "DELETE":
            if book.remove(fault_id):
                return control_json({"removed": 1})
            return error_json(f"no fault {fault_id}", 404)
        fault = book.get(fault_id)
        if fault is None:
            return error_json(f"no fault {fault_id}", 404)
        return control_json({"fault": fault.to_json(self.clock.now())})


def control_routes(control: Control) -> list[Route]:
    """The shared ``/_sandbox`` routes, to put before the platform's catch-all."""
    return [
        Route("/_sandbox", control.index, methods=["GET"]),
        Route("/_sandbox/events", control.events, methods=["GET"]),
        Route("/_sandbox/summary", control.summary, methods=["GET"]),
        Route("/_sandbox/requests", control.requests, methods=["GET"]),
        Route("/_sandbox/state", control.reset, methods=["DELETE"]),
        Route("/_sandbox/faults", control.faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/faults/{fault_id}", control.fault, methods=["GET", "DELETE"]),
    ]
