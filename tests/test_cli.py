"""The ``signalyard`` command, run with click's CliRunner against a temporary SQLite file.

Secrets (ingest keys, destination tokens, app secrets) never appear in any output, except
the one-time print of a key by ``keys create``.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import orjson
import pytest
from click.testing import CliRunner, Result

from signalyard.cli import main
from signalyard.event import AcceptedEvent
from signalyard.secret import Secret
from signalyard.secret_box import new_key_text
from signalyard.sources.auth import hash_key
from signalyard.store.sqlite import SQLiteStore

T = TypeVar("T")
TOKEN = "EAAGsecretDestinationToken0123456789"
NEW_TOKEN = "EAAGrotatedDestinationToken987654321"
APP_SECRET = "0123456789abcdef-app-secret"
KEY_PATTERN = re.compile(r"\bsy_[A-Za-z0-9_-]{43}\b")


class Cli:
    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner(env={"SIGNALYARD_DATABASE_URL": url})
        self.outputs: list[str] = []

    def __call__(self, *args: str, input: str | None = None, code: int | None = 0) -> Result:
        """Run ``signalyard *args``; ``code`` is the expected exit code (None: any)."""
        result = self.runner.invoke(main, list(args), input=input)
        self.outputs.append(result.output)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"{args}: {result.output}") from result.exception
        if code is not None:
            assert result.exit_code == code, (args, result.exit_code, result.output)
        return result

    def store(self, job: Callable[[SQLiteStore], Awaitable[T]]) -> T:
        async def run() -> T:
            store = SQLiteStore(self.url)
            await store.open()
            try:
                return await job(store)
            finally:
                await store.close()

        return asyncio.run(run())

    def all_output(self) -> str:
        return "\n".join(self.outputs)


@pytest.fixture
def bare_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """The command on a database file that does not exist yet."""
    for name in list(os.environ):
        if name.startswith("SIGNALYARD_"):
            monkeypatch.delenv(name)
    c = Cli(f"sqlite:///{tmp_path / 'cli.db'}")
    yield c
    # No command ever showed a destination secret.
    for secret in (TOKEN, NEW_TOKEN, APP_SECRET):
        assert secret not in c.all_output()


@pytest.fixture
def cli(bare_cli: Cli) -> Cli:
    """The command on a migrated, empty database (only serve and migrate create one)."""
    bare_cli("migrate")
    return bare_cli


@pytest.fixture
def shop(cli: Cli) -> Cli:
    """A migrated database with dataset 123 and a destination "meta-prod" (token + secret)."""
    cli("migrate")
    cli("datasets", "add", "123", "--name", "Shop", "--default-country", "vn")
    cli(
        "destinations",
        "add",
        "123",
        "meta-prod",
        "--option",
        "pixel_id=123",
        "--option",
        "graph_url=sandbox",
        "--token-stdin",
        "--app-secret-stdin",
        input=f"{TOKEN}\n{APP_SECRET}\n",
    )
    return cli


# schema and datasets ------------------------------------------------------------------------


def test_migrate_creates_the_schema_and_is_idempotent(cli: Cli) -> None:
    assert "Schema is up to date." in cli("migrate").output
    assert "Schema is up to date." in cli("migrate").output
    assert cli.store(lambda s: s.list_datasets()) == []


def test_commands_on_an_unmigrated_database_say_so(bare_cli: Cli) -> None:
    Path(bare_cli.url.removeprefix("sqlite:///")).touch()  # a file, but no schema
    result = bare_cli("keys", "list", code=1)
    assert "signalyard migrate" in result.output
    assert "Traceback" not in result.output


def test_datasets_add_and_list(cli: Cli) -> None:
    assert "Dataset 123 added." in cli("datasets", "add", "123", "--default-country", "vn").output
    cli("datasets", "add", "456", "--name", "Other shop")
    out = cli("datasets", "list").output.splitlines()
    assert out == [
        "123\t123\tdefault_country=VN\torigins=-",
        "456\tOther shop\tdefault_country=-\torigins=-",
    ]
    (d123, _) = cli.store(lambda s: s.list_datasets())
    assert d123.default_country == "VN"


def test_datasets_set_origins(cli: Cli) -> None:
    cli("datasets", "add", "123")
    out = cli("datasets", "set-origins", "123", "HTTPS://Shop.Example.com/", "https://*.ex.org")
    assert "https://shop.example.com, https://*.ex.org" in out.output
    assert "origins=https://shop.example.com,https://*.ex.org" in cli("datasets", "list").output
    bad = cli("datasets", "set-origins", "123", "shop.example.com", code=2)
    assert "not an origin" in bad.output
    assert "no dataset 999" in cli("datasets", "set-origins", "999", "https://a.b", code=2).output
    assert "takes no browser events" in cli("datasets", "set-origins", "123").output


def test_destinations_set_consent(cli: Cli) -> None:
    cli("datasets", "add", "123")
    cli(
        "destinations",
        "add",
        "123",
        "meta",
        "--option",
        "pixel_id=123",
        "--token-stdin",
        input="t\n",
    )
    out = cli("destinations", "set-consent", "meta", "--rule", "EU:unknown=hold").output
    assert "  EU: granted=full, denied=drop, pending=hold, unknown=hold" in out
    (d,) = cli.store(lambda s: s.list_destinations())
    assert d.options["consent_policy"] == [
        {
            "regions": ["EU"],
            "actions": {"granted": "full", "denied": "drop", "pending": "hold", "unknown": "hold"},
        }
    ]
    bad = cli("destinations", "set-consent", "meta", "--rule", "EU:unknown=later", code=2)
    assert "an action in full, ldu, no_pii, hold, drop" in bad.output
    cli("destinations", "set-consent", "meta", "--reset")
    (d,) = cli.store(lambda s: s.list_destinations())
    assert "consent_policy" not in d.options


@pytest.mark.parametrize("country", ["XX", "usa", "1", "Vietnam"])
def test_datasets_add_rejects_a_bad_country(cli: Cli, country: str) -> None:
    result = cli("datasets", "add", "123", "--default-country", country, code=2)
    assert "--default-country" in result.output
    assert "ISO 3166-1 alpha-2" in result.output
    cli("migrate")
    assert cli.store(lambda s: s.list_datasets()) == []


def test_datasets_add_twice_is_a_clean_error(cli: Cli) -> None:
    cli("datasets", "add", "123")
    result = cli.runner.invoke(main, ["datasets", "add", "123"])
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1
    assert "123" in result.output


# keys ---------------------------------------------------------------------------------------


def test_keys_create_prints_the_key_once_and_list_never_shows_it(shop: Cli) -> None:
    result = shop("keys", "create", "123", "--label", "website")
    keys = KEY_PATTERN.findall(result.output)
    assert len(keys) == 1
    secret = keys[0]
    assert result.output.count(secret) == 1
    assert result.output.strip().splitlines()[-1] == secret
    # It is a working key of dataset 123, stored only as a hash.
    found = shop.store(lambda s: s.find_key(hash_key(secret)))
    assert found is not None and found.dataset_id == "123" and found.label == "website"
    assert found.id in result.output
    listing = shop("keys", "list").output
    assert found.id in listing and "active" in listing and "website" in listing
    assert secret not in listing
    assert not KEY_PATTERN.search(listing)
    assert secret not in shop("keys", "list", "--dataset", "123").output
    assert shop.all_output().count(secret) == 1


def test_keys_create_for_an_unknown_dataset_fails(shop: Cli) -> None:
    result = shop("keys", "create", "999", code=1)
    assert "no dataset 999" in result.output
    assert not KEY_PATTERN.search(result.output)
    assert shop.store(lambda s: s.list_keys()) == []


def test_keys_revoke(shop: Cli) -> None:
    secret = KEY_PATTERN.findall(shop("keys", "create", "123").output)[0]
    other = KEY_PATTERN.findall(shop("keys", "create", "123").output)[0]
    key = shop.store(lambda s: s.find_key(hash_key(secret)))
    assert key is not None
    assert f"Revoked {key.id}." in shop("keys", "revoke", key.id).output
    revoked = shop.store(lambda s: s.find_key(hash_key(secret)))
    assert revoked is not None and revoked.revoked_at is not None
    still = shop.store(lambda s: s.find_key(hash_key(other)))
    assert still is not None and still.revoked_at is None
    lines = shop("keys", "list").output.splitlines()
    assert [line.split("\t")[2] for line in lines] == ["revoked", "active"]
    again = shop("keys", "revoke", key.id, code=1)
    assert "no active key" in again.output
    shop("keys", "revoke", "key_nope", code=1)


# destinations -------------------------------------------------------------------------------


def test_destinations_add_reads_the_token_from_stdin_and_never_shows_it(shop: Cli) -> None:
    (dest,) = shop.store(lambda s: s.list_destinations())
    assert dest.name == "meta-prod" and dest.kind == "meta" and dest.state == "active"
    assert dest.secrets["access_token"].reveal() == TOKEN
    assert dest.secrets["app_secret"].reveal() == APP_SECRET
    assert dest.options == {"pixel_id": "123", "graph_url": "sandbox"}
    listing = shop("destinations", "list").output
    assert listing.split("\t")[1:5] == ["123", "meta-prod", "meta", "active\n"]
    assert TOKEN not in listing and APP_SECRET not in listing


def test_destinations_add_needs_a_token_on_stdin(shop: Cli) -> None:
    result = shop("destinations", "add", "123", "other", "--option", "pixel_id=123", code=2)
    assert "--token-stdin" in result.output
    result = shop(
        "destinations",
        "add",
        "123",
        "other",
        "--option",
        "pixel_id=123",
        "--token-stdin",
        input="\n",
        code=2,
    )
    assert len(shop.store(lambda s: s.list_destinations())) == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("123", "d", "--option", "pixel_id=abc"), "pixel_id"),
        (("123", "d", "--option", "pixel_id=1", "--option", "colour=red"), "colour"),
        (("123", "d", "--option", "nonsense"), "KEY=VALUE"),
        (("999", "d", "--option", "pixel_id=1"), "no dataset 999"),
    ],
)
def test_destinations_add_rejects_bad_input_without_echoing_the_token(
    shop: Cli, args: tuple[str, ...], needle: str
) -> None:
    result = shop("destinations", "add", *args, "--token-stdin", input=TOKEN + "\n", code=None)
    assert result.exit_code in (1, 2)
    assert needle in result.output
    assert TOKEN not in result.output
    assert len(shop.store(lambda s: s.list_destinations())) == 1


def test_destinations_add_same_name_twice_is_a_clean_error(shop: Cli) -> None:
    args = ["destinations", "add", "123", "meta-prod", "--option", "pixel_id=123", "--token-stdin"]
    result = shop.runner.invoke(main, args, input=TOKEN + "\n")
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1
    assert "meta-prod" in result.output and TOKEN not in result.output


def _pause(cli: Cli) -> int:
    (dest,) = cli.store(lambda s: s.list_destinations())

    async def pause(s: SQLiteStore) -> None:
        await s.pause(
            dest.id,
            reason="(#190) Error validating access token: Session has expired",
            fix="Give a new token: signalyard destinations set-token meta-prod",
            now=time.time(),
        )

    cli.store(pause)
    return dest.id


def test_set_token_replaces_the_token_and_resumes_a_paused_destination(shop: Cli) -> None:
    _pause(shop)
    listing = shop("destinations", "list").output
    assert "\tpaused\t" in listing and "Session has expired" in listing
    status = shop("status").output
    assert "PAUSED" in status and "reason: (#190)" in status and "set-token" in status

    result = shop("destinations", "set-token", "meta-prod", input=NEW_TOKEN + "\n")
    assert "active again" in result.output
    (dest,) = shop.store(lambda s: s.list_destinations())
    assert dest.state == "active" and dest.paused_reason is None and dest.paused_fix is None
    assert dest.secrets["access_token"].reveal() == NEW_TOKEN
    assert dest.secrets["app_secret"].reveal() == APP_SECRET
    assert "ACTIVE" in shop("status").output
    # by id as well
    shop("destinations", "set-token", str(dest.id), input=TOKEN + "\n")
    assert shop.store(lambda s: s.list_destinations())[0].secrets["access_token"].reveal() == TOKEN


def test_set_token_errors(shop: Cli) -> None:
    assert "standard input" in shop("destinations", "set-token", "meta-prod", code=2).output
    assert (
        "no destination nope"
        in shop("destinations", "set-token", "nope", input="x\n", code=1).output
    )


def test_destinations_add_reads_any_declared_secret_and_names_a_missing_one(cli: Cli) -> None:
    cli("datasets", "add", "123")
    add = ["destinations", "add", "123", "m", "--option", "pixel_id=123"]
    missing = cli(*add, "--secret-stdin", "app_secret", input=APP_SECRET + "\n", code=2)
    assert "access_token required" in missing.output
    assert "--secret-stdin access_token" in missing.output
    unknown = cli(*add, "--secret-stdin", "password", input=TOKEN + "\n", code=2)
    assert "no secret 'password'; its secrets are: access_token, app_secret" in unknown.output
    assert cli.store(lambda s: s.list_destinations()) == []
    both = ("--secret-stdin", "app_secret", "--secret-stdin", "access_token")
    cli(*add, *both, input=f"{APP_SECRET}\n{TOKEN}\n")
    (dest,) = cli.store(lambda s: s.list_destinations())
    assert dest.secrets == {"access_token": Secret(TOKEN), "app_secret": Secret(APP_SECRET)}
    raw = Path(cli.url.removeprefix("sqlite:///")).read_bytes()
    wal = Path(cli.url.removeprefix("sqlite:///") + "-wal")
    raw += wal.read_bytes() if wal.exists() else b""
    assert TOKEN.encode() not in raw and APP_SECRET.encode() not in raw


def test_set_secret_sets_unsets_and_checks_the_field(shop: Cli) -> None:
    _pause(shop)
    out = shop("destinations", "set-secret", "meta-prod", "app_secret", input="new-secret\n")
    assert (
        "Secret app_secret of meta-prod replaced" in out.output and "new-secret" not in out.output
    )
    (dest,) = shop.store(lambda s: s.list_destinations())
    assert dest.state == "active" and dest.secrets["app_secret"] == Secret("new-secret")
    assert dest.secrets["access_token"] == Secret(TOKEN)
    shop("destinations", "set-secret", "meta-prod", "app_secret", "--unset")
    (dest,) = shop.store(lambda s: s.list_destinations())
    assert dest.secrets == {"access_token": Secret(TOKEN)}
    assert "secrets:  access_token set, app_secret not set" in (
        shop("destinations", "show", "meta-prod").output
    )
    required = shop("destinations", "set-secret", "meta-prod", "access_token", "--unset", code=2)
    assert "access_token is required" in required.output
    unknown = shop("destinations", "set-secret", "meta-prod", "pasword", input="x\n", code=2)
    assert "its secrets are: access_token, app_secret" in unknown.output
    assert (
        "standard input"
        in shop("destinations", "set-secret", "meta-prod", "app_secret", code=2).output
    )


def test_a_wrong_key_is_one_line_and_forget_secrets_recovers(shop: Cli) -> None:
    other = CliRunner(
        env={"SIGNALYARD_DATABASE_URL": shop.url, "SIGNALYARD_SECRET_KEY": new_key_text()}
    )
    wrong = other.invoke(main, ["destinations", "list"])
    assert wrong.exit_code == 1 and isinstance(wrong.exception, SystemExit)
    assert "Traceback" not in wrong.output and len(wrong.output.strip().splitlines()) == 1
    assert "SIGNALYARD_SECRET_KEY" in wrong.output and "forget-secrets" in wrong.output
    refused = other.invoke(main, ["destinations", "forget-secrets"])
    assert refused.exit_code == 2 and "--yes" in refused.output
    done = other.invoke(main, ["destinations", "forget-secrets", "--yes"])
    assert done.exit_code == 0 and "1 destination(s) forgotten" in done.output
    listing = other.invoke(main, ["destinations", "list"])
    assert "\tpaused\t" in listing.output and "lost" in listing.output
    assert (
        other.invoke(
            main, ["destinations", "set-token", "meta-prod"], input=NEW_TOKEN + "\n"
        ).exit_code
        == 0
    )
    show = other.invoke(main, ["destinations", "show", "meta-prod"]).output
    assert "ACTIVE" in show and "access_token set, app_secret not set" in show
    assert NEW_TOKEN not in show
    # the old key (the file beside the database) no longer opens it
    assert "forget-secrets" in shop("destinations", "list", code=1).output


def test_destinations_resume(shop: Cli) -> None:
    _pause(shop)
    assert "meta-prod resumed." in shop("destinations", "resume", "meta-prod").output
    (dest,) = shop.store(lambda s: s.list_destinations())
    assert dest.state == "active" and dest.secrets["access_token"].reveal() == TOKEN


# status and replay --------------------------------------------------------------------------


def _queue(cli: Cli, n: int, age_seconds: float) -> list[int]:
    """Store n events (the oldest ``age_seconds`` old); deliver the first, dead-letter the
    second. Returns the outbox ids of the dead letters."""
    now = time.time()
    (dest,) = cli.store(lambda s: s.list_destinations())

    async def job(s: SQLiteStore) -> list[int]:
        events = [
            AcceptedEvent(
                "123",
                "Purchase",
                f"order-{i}",
                int(now - age_seconds) + i,
                {"event_name": "Purchase", "event_id": f"order-{i}"},
            )
            for i in range(n)
        ]
        assert await s.ingest(events, now=now) == [True] * n
        claimed = await s.claim(dest.id, owner="t", limit=2, now=now, lease_seconds=60)
        assert len(claimed) == 2
        await s.settle_delivered([claimed[0].outbox_id], owner="t", now=now)
        await s.settle_dead(
            [claimed[1].outbox_id],
            owner="t",
            reason="Invalid parameter: custom_data.currency",
            code=100,
            subcode=2804019,
            now=now,
        )
        return [claimed[1].outbox_id]

    return cli.store(job)


def test_status_without_destinations(cli: Cli) -> None:
    cli("migrate")
    assert cli("status").output.strip() == "No destinations."
    assert orjson.loads(cli("status", "--json").output) == []


def test_status_text_shows_queue_depth_oldest_state_and_dead_letters(shop: Cli) -> None:
    _queue(shop, 5, age_seconds=2 * 3600)
    out = shop("status").output
    assert "meta-prod (meta, dataset 123): ACTIVE" in out
    m = re.search(r"queued (\d+) \(due (\d+)\), oldest event (\S+) old", out)
    assert m is not None, out
    assert m[1] == "3" and m[2] == "3"
    # the oldest *queued* event is the third (delivered and dead ones do not count)
    assert m[3].endswith("h") and 1.9 <= float(m[3][:-1]) <= 2.1
    assert "delivered 1, dead letters 1" in out


def test_status_json(shop: Cli) -> None:
    _queue(shop, 5, age_seconds=600)
    (row,) = orjson.loads(shop("status", "--json").output)
    assert row["destination"] == "meta-prod"
    assert row["dataset"] == "123"
    assert row["state"] == "active"
    assert row["paused_reason"] is None and row["fix"] is None
    assert row["queued"] == 3 and row["due"] == 3
    assert row["delivered"] == 1 and row["dead_letters"] == 1
    assert 590 <= row["oldest_event_age_seconds"] <= 660
    _pause(shop)
    (row,) = orjson.loads(shop("status", "--json").output)
    assert row["state"] == "paused"
    assert "Session has expired" in row["paused_reason"] and "set-token" in row["fix"]


def test_replay_list_and_replay(shop: Cli) -> None:
    (dead_id,) = _queue(shop, 3, age_seconds=60)
    listing = shop("replay", "--list").output.strip().splitlines()
    assert len(listing) == 1
    fields = listing[0].split("\t")
    assert fields[:3] == [str(dead_id), "Purchase", "order-1"]
    assert "code=100 subcode=2804019" in listing[0]
    assert "custom_data.currency" in listing[0]
    assert orjson.loads(shop("status", "--json").output)[0]["dead_letters"] == 1  # unchanged
    assert shop("replay", "--list", "--destination", "meta-prod").output.strip() == listing[0]

    result = shop("replay")
    assert "Queued 1 dead letter(s) again." in result.output
    (row,) = orjson.loads(shop("status", "--json").output)
    assert row["dead_letters"] == 0 and row["queued"] == 2
    assert shop("replay", "--list").output.strip() == ""
    assert "Queued 0 dead letter(s) again." in shop("replay").output


def test_replay_selected_ids_and_destination(shop: Cli) -> None:
    (dead_id,) = _queue(shop, 3, age_seconds=60)
    assert "Queued 0" in shop("replay", "--id", str(dead_id + 100)).output
    assert "Queued 1" in shop("replay", "--destination", "meta-prod", "--id", str(dead_id)).output
    assert "no destination nope" in shop("replay", "--destination", "nope", code=1).output


# secrets ------------------------------------------------------------------------------------


def test_no_secret_in_any_output_except_the_one_time_key(shop: Cli) -> None:
    created = shop("keys", "create", "123").output
    (secret,) = KEY_PATTERN.findall(created)
    _queue(shop, 3, age_seconds=60)
    _pause(shop)
    shop("destinations", "set-token", "meta-prod", input=NEW_TOKEN + "\n")
    for args in (
        ("datasets", "list"),
        ("keys", "list"),
        ("destinations", "list"),
        ("status",),
        ("status", "--json"),
        ("replay", "--list"),
        ("replay",),
        ("--help",),
        ("destinations", "add", "--help"),
    ):
        shop(*args)
    everything = shop.all_output()
    assert everything.count(secret) == 1
    assert len(KEY_PATTERN.findall(everything)) == 1
    for value in (TOKEN, NEW_TOKEN, APP_SECRET, hash_key(secret)):
        assert value not in everything


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("signalyard, version ")


def test_status_shows_consent_decisions_and_one_events_trail(cli: Cli) -> None:
    from signalyard.event import AcceptedEvent, Consent

    cli("datasets", "add", "123", "--default-country", "DE")
    cli(
        "destinations",
        "add",
        "123",
        "meta",
        "--option",
        "pixel_id=123",
        "--token-stdin",
        input="t\n",
    )
    now = time.time()

    def event(i: int, state: str) -> AcceptedEvent:
        consent = Consent(state, "gcm", "FR", "subject-hash")
        return AcceptedEvent(
            "123", "Purchase", f"e{i}", int(now), {"event_name": "Purchase"}, consent=consent
        )

    cli.store(
        lambda s: s.ingest([event(1, "denied"), event(2, "pending"), event(3, "granted")], now=now)
    )
    out = cli("status").output
    assert "consent: held 1, dropped 1" in out
    assert (
        "meta: 1 dropped (drop): consent denied (gcm) in FR: built-in rule EU says denied=drop"
        in out
    )
    trail = cli("status", "--event", "e2").output
    assert "Purchase e2 (dataset 123, from graph_api) -> meta: held, 0 attempt(s)" in trail
    assert "consent: hold: consent pending (gcm) in FR: built-in rule EU says pending=hold" in trail
    data = orjson.loads(cli("status", "--json").output)
    assert (data[0]["held_for_consent"], data[0]["dropped_by_consent"]) == (1, 1)
    assert "No event with event_id nope" in cli("status", "--event", "nope").output


# datasets: default country, update ----------------------------------------------------------


def test_datasets_set_country_and_update(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    cli("migrate")
    cli("datasets", "add", "123", "--name", "Shop")
    out = cli("datasets", "set-country", "123", "us").output
    assert "default country US" in out
    assert cli.store(lambda s: s.get_dataset("123")).default_country == "US"  # type: ignore[union-attr]
    out = cli(
        "datasets", "update", "123", "--name", "My shop", "--origin", "https://shop.example.com"
    ).output
    assert "name 'My shop'" in out and "default country US" in out
    assert "https://shop.example.com" in out
    listing = cli("datasets", "list").output
    assert "123\tMy shop\tdefault_country=US\torigins=https://shop.example.com" in listing
    # '-' clears the country; the setting then applies, and the command says so
    out = cli("datasets", "set-country", "123", "-").output
    assert "no default country" in out and "cannot be completed" in out
    monkeypatch.setenv("SIGNALYARD_DEFAULT_COUNTRY", "VN")
    assert (
        "the setting default_country (VN) applies"
        in cli("datasets", "update", "123", "--no-origins").output
    )
    monkeypatch.delenv("SIGNALYARD_DEFAULT_COUNTRY")
    assert "default_country=-\torigins=-" in cli("datasets", "list").output


def test_datasets_set_country_and_update_errors(cli: Cli) -> None:
    cli("migrate")
    cli("datasets", "add", "123")
    assert "ISO 3166-1 alpha-2" in cli("datasets", "set-country", "123", "XX", code=2).output
    assert "ISO 3166-1 alpha-2" in cli("datasets", "set-country", "123", "USA", code=2).output
    assert "no dataset 9" in cli("datasets", "set-country", "9", "US", code=1).output
    assert "nothing to change" in cli("datasets", "update", "123", code=2).output
    assert (
        "not both"
        in cli(
            "datasets", "update", "123", "--origin", "https://a.example", "--no-origins", code=2
        ).output
    )
    assert "--origin" in cli("datasets", "update", "123", "--origin", "not a url", code=2).output
    assert cli.store(lambda s: s.get_dataset("123")).default_country is None  # type: ignore[union-attr]


# first start: the demo dataset's default country ------------------------------------------


def _serve_once(cli: Cli, monkeypatch: pytest.MonkeyPatch, **env: str | None) -> str:
    """``signalyard serve`` up to the point it would start serving."""
    import socket

    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return cli("serve", "--port", port).output


def test_first_start_takes_the_country_from_the_locale_and_says_so(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _serve_once(cli, monkeypatch, LC_ALL=None, LANG="en_US.UTF-8")
    assert (
        "Default country US, from the locale en_US.UTF-8 ($LANG); change with"
        " `signalyard datasets set-country 1234567890 XX`" in out
    )
    (demo,) = cli.store(lambda s: s.list_datasets())
    assert demo.id == "1234567890" and demo.default_country == "US"
    # not asked again, and the command it names works
    assert "Default country" not in _serve_once(cli, monkeypatch)
    cli("datasets", "set-country", "1234567890", "VN")
    assert cli.store(lambda s: s.get_dataset("1234567890")).default_country == "VN"  # type: ignore[union-attr]


def test_first_start_without_a_country_in_the_locale_says_none_is_set(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _serve_once(cli, monkeypatch, LC_ALL="C.UTF-8", LANG="de_DE.UTF-8")
    assert "No default country for dataset 1234567890 (the locale C.UTF-8 names no country)" in out
    assert "`signalyard datasets set-country 1234567890 XX`" in out
    assert cli.store(lambda s: s.get_dataset("1234567890")).default_country is None  # type: ignore[union-attr]


def test_first_start_the_setting_wins_over_the_locale(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _serve_once(cli, monkeypatch, LANG="en_US.UTF-8", SIGNALYARD_DEFAULT_COUNTRY="vn")
    assert "Default country VN, from the setting default_country" in out
    assert cli.store(lambda s: s.get_dataset("1234567890")).default_country == "VN"  # type: ignore[union-attr]


def test_first_start_on_a_terminal_asks_offering_the_locales_country() -> None:
    from signalyard.cli.first_start import choose_country
    from signalyard.settings import Settings

    asked: list[tuple[str, str]] = []

    def ask(text: str, *, default: str, value_proc: Callable[[str], str]) -> str:
        asked.append((text, default))
        return value_proc(" de ")

    got = choose_country(Settings(), {"LANG": "en_GB.UTF-8"}, interactive=True, ask=ask)
    assert (got.country, got.source) == ("DE", "your answer")
    assert asked[0][1] == "GB"
    none = choose_country(Settings(), {}, interactive=True, ask=lambda *a, **k: "-")
    assert none.country is None


@pytest.mark.parametrize(
    ("environ", "country"),
    [
        ({"LANG": "en_US.UTF-8"}, "US"),
        ({"LANG": "vi_VN"}, "VN"),
        ({"LANG": "sr_RS@latin"}, "RS"),
        ({"LC_ALL": "fr_CA.UTF-8", "LANG": "en_US.UTF-8"}, "CA"),
        ({"LC_ALL": "C", "LANG": "en_US.UTF-8"}, None),
        ({"LANG": "C.UTF-8"}, None),
        ({"LANG": "POSIX"}, None),
        ({"LANG": "en"}, None),
        ({"LANG": "en_XX.UTF-8"}, None),
        ({}, None),
    ],
)
def test_country_from_locale(environ: dict[str, str], country: str | None) -> None:
    from signalyard.country import country_from_locale

    got = country_from_locale(environ)
    assert (got.country if got else None) == country


# destinations: show, update, pause, remove, check -------------------------------------------


def test_destinations_show_never_shows_secrets(shop: Cli) -> None:
    out = shop("destinations", "show", "meta-prod").output
    assert "meta-prod (id 1, meta, dataset 123): ACTIVE" in out
    assert "mode:     sandbox" in out
    assert "option    graph_url=sandbox" in out and "option    pixel_id=123" in out
    assert "secrets:  access_token set, app_secret set" in out
    data = orjson.loads(shop("destinations", "show", "meta-prod", "--json").output)
    assert data["mode"] == "sandbox" and data["options"] == {
        "pixel_id": "123",
        "graph_url": "sandbox",
    }
    assert data["secrets"] == {"access_token": "set", "app_secret": "set"}
    assert data["queued"] == 0
    assert "no destination nope" in shop("destinations", "show", "nope", code=1).output


def test_destinations_update_sets_and_unsets_options_and_status_shows_the_mode(
    shop: Cli,
) -> None:
    out = shop(
        "destinations",
        "update",
        "meta-prod",
        "--option",
        "graph_url=https://graph.facebook.com",
        "--option",
        "test_event_code=TEST123",
    ).output
    assert "mode: test" in out
    assert "`signalyard destinations update meta-prod --unset test_event_code`" in out
    (d,) = shop.store(lambda s: s.list_destinations())
    assert d.options["test_event_code"] == "TEST123"
    assert d.secrets["access_token"].reveal() == TOKEN  # the token is untouched
    assert "  mode:   test" in shop("status").output
    assert orjson.loads(shop("status", "--json").output)[0]["mode"] == "test"

    out = shop("destinations", "update", "meta-prod", "--unset", "test_event_code").output
    assert "mode: live" in out
    (d,) = shop.store(lambda s: s.list_destinations())
    assert "test_event_code" not in d.options
    assert orjson.loads(shop("status", "--json").output)[0]["mode"] == "live"


def test_destinations_update_is_checked_like_add(shop: Cli) -> None:
    before = shop.store(lambda s: s.list_destinations())[0].options
    bad = shop("destinations", "update", "meta-prod", "--option", "timeout_seconds=soon", code=1)
    assert "timeout_seconds" in bad.output
    assert (
        "unknown option"
        in shop("destinations", "update", "meta-prod", "--option", "colour=red", code=1).output
    )
    assert (
        "pixel_id is required"
        in shop("destinations", "update", "meta-prod", "--unset", "pixel_id", code=1).output
    )
    assert (
        "no option test_event_code"
        in shop("destinations", "update", "meta-prod", "--unset", "test_event_code", code=2).output
    )
    assert (
        "set-consent"
        in shop(
            "destinations", "update", "meta-prod", "--option", "consent_policy=[]", code=2
        ).output
    )
    assert "nothing to change" in shop("destinations", "update", "meta-prod", code=2).output
    assert shop.store(lambda s: s.list_destinations())[0].options == before


def test_destinations_update_keeps_the_consent_policy(shop: Cli) -> None:
    shop("destinations", "set-consent", "meta-prod", "--rule", "EU:unknown=hold")
    shop("destinations", "update", "meta-prod", "--option", "timeout_seconds=5")
    (d,) = shop.store(lambda s: s.list_destinations())
    assert d.options["timeout_seconds"] == 5 and d.options["consent_policy"]
    # the worker can still build the destination's sink (the policy is the gateway's option)
    import httpx

    from signalyard.clock import SystemClock
    from signalyard.sinks import build_sink

    sink = build_sink(d, client=httpx.AsyncClient(), clock=SystemClock(), sandbox_url="http://x")
    assert sink.kind == "meta"


def test_destinations_pause_keeps_events_queued(shop: Cli) -> None:
    _queue(shop, 3, age_seconds=60)
    out = shop("destinations", "pause", "meta-prod").output
    assert "meta-prod paused" in out and "signalyard destinations resume meta-prod" in out
    (row,) = orjson.loads(shop("status", "--json").output)
    assert row["state"] == "paused" and row["queued"] == 1
    assert row["fix"] == "resume it with `signalyard destinations resume meta-prod`"
    shop("destinations", "resume", "meta-prod")
    assert orjson.loads(shop("status", "--json").output)[0]["state"] == "active"


def test_destinations_remove_refuses_queued_events_unless_dropped(shop: Cli) -> None:
    _queue(shop, 3, age_seconds=60)  # 1 queued, 1 delivered, 1 dead letter
    refused = shop("destinations", "remove", "meta-prod", code=1).output
    assert "meta-prod not removed: 1 event(s) are still waiting" in refused
    assert "--drop-queue" in refused
    assert len(shop.store(lambda s: s.list_destinations())) == 1
    out = shop("destinations", "remove", "meta-prod", "--drop-queue").output
    assert "Destination meta-prod removed; 1 waiting event(s) dropped, never sent." in out
    assert shop.store(lambda s: s.list_destinations()) == []
    assert shop("status").output.strip() == "No destinations."
    assert "no destination meta-prod" in shop("destinations", "remove", "meta-prod", code=1).output


def test_destinations_check_against_the_sandbox(
    shop: Cli, serve: Callable[[object], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from signalyard.sandbox.meta import create_app
    from signalyard.sandbox.registry import served

    # As `signalyard sandbox` serves it: each kind's sandbox at /sandbox/<kind>.
    url = serve(served({"meta": create_app(app_secret=APP_SECRET)}))
    monkeypatch.setenv("SIGNALYARD_SANDBOX_URL", url)
    out = shop("destinations", "check", "meta-prod").output
    assert "meta-prod (meta, sandbox" in out
    assert "OK: the platform answered HTTP 200" in out and "can deliver" in out
    # a token the platform refuses: the answer, and the fix naming the destination
    shop("destinations", "set-token", "meta-prod", input="bad token\n")
    failed = shop("destinations", "check", "meta-prod", code=1).output
    assert "FAILED: the platform answered HTTP" in failed
    assert "`signalyard destinations set-token meta-prod`" in failed
    # nothing listening: said, with the likely cause
    monkeypatch.setenv("SIGNALYARD_SANDBOX_URL", "http://127.0.0.1:9/sandbox/meta")
    down = shop("destinations", "check", "meta-prod", code=1).output
    assert "FAILED: no answer from the platform" in down and "is it running?" in down


def test_sandbox_command_refuses_an_unknown_kind() -> None:
    from click.testing import CliRunner

    from signalyard.cli import main

    result = CliRunner().invoke(main, ["sandbox", "nope", "--port", "1"])
    assert result.exit_code == 2
    assert "no sandbox for nope" in result.output and "meta" in result.output


def test_destinations_add_stores_a_number_given_as_text_as_update_does(shop: Cli) -> None:
    args = ["destinations", "add", "123", "meta-quick", "--option", "pixel_id=123"]
    shop(*args, "--option", "timeout_seconds=5", "--token-stdin", input=TOKEN + "\n")
    (d,) = [d for d in shop.store(lambda s: s.list_destinations()) if d.name == "meta-quick"]
    assert d.options["timeout_seconds"] == 5
    bad = [*args[:3], "meta-bad", "--option", "pixel_id=1", "--option", "timeout_seconds=soon"]
    out = shop(*bad, "--token-stdin", input=TOKEN + "\n", code=1).output
    assert "timeout_seconds" in out
