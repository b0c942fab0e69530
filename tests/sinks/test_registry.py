"""Every destination in REGISTRY keeps the shared contract (style guide: conformance)."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.errors import ConfigError
from signalyard.outcome import Retry
from signalyard.secret import Secret
from signalyard.sinks import (
    REGISTRY,
    SinkConfig,
    SinkSpec,
    build_sink,
    checked_config,
    delivery_mode,
    mode_note,
    mode_option,
    sandbox_base,
    spec_for,
)
from signalyard.sinks.base import Sink
from signalyard.store.base import Destination

pytestmark = pytest.mark.anyio

SECRET = "registry-conformance-secret-value"
EVENT = {
    "event_name": "PageView",
    "event_time": 1_799_996_400,
    "action_source": "website",
    "event_source_url": "https://shop.example/",
    "user_data": {"client_ip_address": "203.0.113.7", "client_user_agent": "Mozilla/5.0"},
    "_click_ids": {"gclid": "Cj0KCQiA-conformance", "li_fat_id": "li-fat-conformance"},
}
SPECS = sorted(REGISTRY.items())


def rebuilt(spec: SinkSpec) -> SinkConfig:
    """The example config stored and read back, its plain secrets replaced by a known one
    (a secret with a structure of its own, such as a key file, is kept as the example has it;
    :func:`secrets_of` names what must never print)."""
    example = spec.example()
    secrets = {
        name: value if _structured(value) else Secret(SECRET)
        for name, value in example.to_secrets().items()
    }
    return spec.config_from_mapping(example.to_mapping(), secrets)


def _structured(value: Secret) -> bool:
    return value.reveal().lstrip().startswith("{")


def secrets_of(spec: SinkSpec) -> list[str]:
    """Texts that must never appear in a repr: the known secret, and every line of length of
    a structured example secret (a key file's private key)."""
    texts = [SECRET]
    for value in spec.example().to_secrets().values():
        if _structured(value):
            texts += [line for line in value.reveal().split("\\n") if len(line) > 40]
    return texts


def build(spec: SinkSpec, handler: httpx.MockTransport) -> Sink:
    return spec.build(rebuilt(spec), httpx.AsyncClient(transport=handler), FrozenClock())


@pytest.mark.parametrize(("kind", "spec"), SPECS)
def test_builds_from_its_example(kind: str, spec: SinkSpec) -> None:
    assert spec.kind == kind
    example = spec.example()
    again = spec.config_from_mapping(example.to_mapping(), example.to_secrets())
    assert again == example
    assert set(example.to_secrets()) <= {f.name for f in spec.secret_fields}
    sink = build(spec, httpx.MockTransport(lambda request: httpx.Response(500)))
    assert sink.kind == kind
    assert sink.max_batch > 0
    assert sink.max_age_seconds > 0
    assert spec_for(kind) is spec


@pytest.mark.parametrize(("kind", "spec"), SPECS)
def test_no_secret_in_reprs(kind: str, spec: SinkSpec) -> None:
    config = rebuilt(spec)
    sink = build(spec, httpx.MockTransport(lambda request: httpx.Response(500)))
    for text in (repr(config), str(config), repr(config.to_mapping()), repr(sink), str(sink)):
        assert not any(secret in text for secret in secrets_of(spec))


@pytest.mark.parametrize(("kind", "spec"), SPECS)
def test_rejects_another_kinds_config(kind: str, spec: SinkSpec) -> None:
    class Other:
        def to_mapping(self) -> dict[str, object]:
            return {}

    with pytest.raises(TypeError):
        spec.build(Other(), httpx.AsyncClient(), FrozenClock())


@pytest.mark.parametrize(("kind", "spec"), SPECS)
@pytest.mark.parametrize(
    "respond",
    [
        lambda request: httpx.Response(503, text="Service Unavailable"),
        lambda request: httpx.Response(502, text="<html>Bad Gateway</html>"),
    ],
)
async def test_server_errors_are_retries(kind: str, spec: SinkSpec, respond: object) -> None:
    sink = build(spec, httpx.MockTransport(respond))  # type: ignore[arg-type]
    result = await sink.send([EVENT, EVENT])
    assert len(result.outcomes) == 2
    assert all(isinstance(o, Retry) for o in result.outcomes)
    health = await sink.healthcheck()
    assert all(isinstance(o, Retry) for o in health.outcomes)
    assert not any(secret in repr(result) + repr(health) for secret in secrets_of(spec))


@pytest.mark.parametrize(("kind", "spec"), SPECS)
@pytest.mark.parametrize(
    "error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.ReadError("reset")]
)
async def test_network_errors_are_retries(kind: str, spec: SinkSpec, error: Exception) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    sink = build(spec, httpx.MockTransport(fail))
    result = await sink.send([EVENT])
    assert isinstance(result.outcomes[0], Retry)
    assert result.attempt.http_status is None
    assert not any(secret in repr(result) for secret in secrets_of(spec))


def test_unknown_kind() -> None:
    with pytest.raises(ConfigError, match="meta"):
        spec_for("myspace")


def _destination(options: dict[str, object]) -> Destination:
    return Destination(
        1,
        "px",
        "shop",
        "meta",
        options,
        {"access_token": Secret(SECRET)},
        "active",
        None,
        None,
        None,
        0.0,
    )


def test_a_destination_with_a_consent_policy_still_builds_its_sink() -> None:
    """The consent policy is the gateway's option (read at ingest), not the sink's: a policy
    set with `destinations set-consent` must not make the destination unusable."""
    policy = [{"regions": ["EU"], "actions": {"unknown": "hold"}}]
    d = _destination({"pixel_id": "123", "graph_url": "sandbox", "consent_policy": policy})
    sink = build_sink(d, client=httpx.AsyncClient(), clock=FrozenClock(), sandbox_url="http://s")
    assert sink.kind == "meta"


@pytest.mark.parametrize(
    ("options", "mode"),
    [
        ({"pixel_id": "1", "graph_url": "sandbox"}, "sandbox"),
        ({"pixel_id": "1", "graph_url": "sandbox", "test_event_code": "T1"}, "sandbox"),
        ({"pixel_id": "1", "graph_url": "http://127.0.0.1:8088/sandbox/meta"}, "sandbox"),
        ({"pixel_id": "1", "graph_url": "http://gw.internal:9000/sandbox/meta/"}, "sandbox"),
        ({"pixel_id": "1", "graph_url": "http://gw.internal:9000/"}, "live"),
        ({"pixel_id": "1", "test_event_code": "TEST123"}, "test"),
        ({"pixel_id": "1", "graph_url": "https://graph.facebook.com"}, "live"),
        ({"pixel_id": "1"}, "live"),
    ],
)
def test_delivery_mode(options: dict[str, object], mode: str) -> None:
    assert delivery_mode(_destination(options), sandbox_url="http://gw.internal:9000") == mode


def test_sandbox_url_resolves_to_the_kind_s_own_sandbox() -> None:
    """Sandboxes are served at <sandbox_url>/sandbox/<kind> (serve and `signalyard sandbox`
    alike): a base-URL option saying "sandbox" resolves there, for that option only."""
    assert sandbox_base("http://127.0.0.1:8089/", "meta") == "http://127.0.0.1:8089/sandbox/meta"
    config = checked_config(
        "meta",
        {"pixel_id": "1", "graph_url": "sandbox"},
        {"access_token": Secret("t")},
        sandbox_url="http://127.0.0.1:8089",
    )
    assert config.to_mapping()["graph_url"] == "http://127.0.0.1:8089/sandbox/meta"


@pytest.mark.parametrize(
    ("given", "resolved"),
    [
        (None, "http://127.0.0.1:8088"),
        ("http://127.0.0.1:8089", "http://127.0.0.1:8089"),
        ("http://127.0.0.1:8089/", "http://127.0.0.1:8089"),
        # The older form, naming Meta's sandbox of a serve: read as where sandboxes are.
        ("http://127.0.0.1:8088/sandbox/meta", "http://127.0.0.1:8088"),
        ("http://box:7000/prefix/sandbox/meta/", "http://box:7000/prefix"),
    ],
)
def test_settings_sandbox_url_is_where_the_sandboxes_are(given: str | None, resolved: str) -> None:
    from signalyard.settings import Settings

    assert Settings(sandbox_url=given).resolved_sandbox_url == resolved


@pytest.mark.parametrize(
    ("kind", "options", "mode"),
    [
        ("meta", {"test_event_code": "TEST1"}, "test"),
        ("google", {"validate_only": True}, "test"),
        ("google", {"validate_only": "false"}, "live"),
        ("google", {"test_event_code": "TEST1"}, "live"),  # not a Google option
        ("tiktok", {"test_event_code": "TEST1"}, "test"),
    ],
)
def test_each_kind_says_which_options_make_it_a_test_destination(
    kind: str, options: dict[str, object], mode: str
) -> None:
    d = dataclasses.replace(_destination(options), kind=kind)
    assert delivery_mode(d, sandbox_url="http://gw") == mode
    if mode == "test":
        (option,) = options
        assert mode_option(d) == option
        assert f"--unset {option}`" in mode_note("test", "shop-dest", mode_option(d))


@pytest.mark.parametrize(
    ("kind", "options", "mode"),
    [
        ("google", {"ads_api_url": "sandbox"}, "live"),  # only its claims come from a sandbox
        ("google", {"api_url": "sandbox", "ads_api_url": "sandbox"}, "sandbox"),
        ("snapchat", {"ads_api_url": "sandbox"}, "live"),
        ("snapchat", {"api_url": "sandbox"}, "sandbox"),
    ],
)
def test_a_reporting_only_base_url_does_not_make_a_sandbox_destination(
    kind: str, options: dict[str, object], mode: str
) -> None:
    d = dataclasses.replace(_destination(options), kind=kind)
    assert delivery_mode(d, sandbox_url="http://gw") == mode
