"""No platform's claims fetch lets a secret out: every kind whose spec declares a reporting
API, without being named here, is asked for its claims of a platform that refuses every
request with an error echoing the secrets the request carried (in its headers, query or
body), placed at every offset around the lengths messages are cut to (300 and 2000
characters), so that a message cut before it is masked would show a token's start."""

from __future__ import annotations

import datetime
from typing import Any

import httpx
import orjson
import pytest

from signalyard.sinks import REGISTRY
from signalyard.sinks.reporting import ReportingError

pytestmark = pytest.mark.anyio
KINDS = sorted(k for k, s in REGISTRY.items() if s.reporting is not None)
DAY = datetime.date(2026, 12, 1)
PADS = [*range(240, 305), *range(1940, 2005)]


def _echo(secrets: list[str], pad: int, status: int) -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        content = request.content.decode("utf-8", "replace")
        carried = " ".join([*request.headers.values(), *request.url.params.values(), content])
        found = " ".join(s for s in secrets if s in carried)
        message = "y" * pad + found + " refused"
        body = {
            "error": {"message": message, "code": 190, "status": "UNAUTHENTICATED"},
            "message": message,
            "code": 40001,
            "request_status": "ERROR",
            "debug_message": message,
            "display_message": message,
        }
        return httpx.Response(status, content=orjson.dumps(body))

    return answer


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [200, 401, 500])
async def test_a_refusal_echoing_the_secrets_sent_shows_none_of_them(
    kind: str, status: int
) -> None:
    spec = REGISTRY[kind]
    assert spec.reporting is not None
    example = spec.example()
    options = {**example.to_mapping(), **spec.reporting.example}
    for key in spec.url_options:
        options[key] = "http://platform.test"
    secrets = [s.reveal() for s in example.to_secrets().values() if len(s.reveal()) >= 8]
    config = spec.config_from_mapping(options, example.to_secrets())
    for pad in PADS:
        transport = httpx.MockTransport(_echo(secrets, pad, status))
        async with httpx.AsyncClient(transport=transport) as client:
            try:
                await spec.reporting.fetch(config, client, DAY, DAY)
            except ReportingError as error:
                said = f"{error.reason} {error.fix}"
            else:
                continue  # an answer read as no claims: nothing said
        for secret in secrets:
            assert secret[:8] not in said, (kind, pad, secret[:8], said)


def test_codes_are_ascii_digits_of_a_reasonable_length() -> None:
    from signalyard.sinks.answers import code_of

    assert code_of("40001") == 40001 and code_of(" 190 ") == 190 and code_of(17) == 17
    for odd in ("²", "١٢٣", "9" * 19, "9" * 5000, "", "12a", True, None, 1.5):
        assert code_of(odd) is None
