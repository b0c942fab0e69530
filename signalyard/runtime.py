"""Opening the configured store and making a fresh install useful at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from signalyard import operator_key
from signalyard.attribution.engine import Attributor
from signalyard.clock import Clock
from signalyard.country import CountryChoice
from signalyard.errors import ConfigError
from signalyard.sandbox.reporting_common import DEFAULT_ACCOUNT
from signalyard.secret import Secret
from signalyard.secret_box import SecretBox
from signalyard.settings import Settings
from signalyard.sources.auth import new_key
from signalyard.store import migrate
from signalyard.store.base import Store
from signalyard.store.sqlite import SQLiteStore

DEMO_DATASET = "1234567890"
"""The dataset a new install starts with (numeric, as Meta dataset ids are)."""
SANDBOX_DESTINATION = "meta-sandbox"
SANDBOX_AD_ACCOUNT = DEFAULT_ACCOUNT
"""The sandbox destination's ad account: the one the sandboxes answer for by default."""


def make_store(settings: Settings, *, verify_key: bool = True) -> Store:
    """The configured store, with the operator key (``verify_key=False``: for
    ``destinations forget-secrets`` only, when the key the secrets need is lost)."""
    url = settings.database_url
    if url.startswith("sqlite:///"):
        return SQLiteStore(
            url,
            cache_mb=settings.sqlite_cache_mb,
            secret_box=lambda: secret_box(settings),
            verify_key=verify_key,
        )
    if url.startswith(("postgresql://", "postgres://")):
        from signalyard.store.postgres import PostgresStore

        return PostgresStore(url, secret_box=lambda: secret_box(settings), verify_key=verify_key)
    raise ConfigError("database_url must start with sqlite:/// or postgresql://")


def secret_box(settings: Settings) -> SecretBox:
    """The operator key the settings give (creating the default key file on first start);
    the stores and migrations ask for it only once the database is reached."""
    return operator_key.load_box(
        settings.database_url,
        secret_key=settings.secret_key,
        secret_key_file=settings.secret_key_file,
    )


def migrate_schema(settings: Settings) -> None:
    migrate.upgrade(settings.database_url, secret_box=lambda: secret_box(settings))


@dataclass(frozen=True, slots=True)
class Bootstrap:
    dataset_id: str
    key_secret: str
    country: CountryChoice
    """The demo dataset's default country and where it came from (to say so)."""


def settings_country(settings: Settings) -> CountryChoice:
    """The ``default_country`` setting, as a choice to report."""
    return CountryChoice(settings.default_country, "the setting default_country")


async def bootstrap(
    store: Store,
    settings: Settings,
    clock: Clock,
    choose_country: Callable[[], CountryChoice] | None = None,
) -> Bootstrap | None:
    """On an empty store: a ``demo`` dataset, an ingest key, and the built-in Meta sandbox as
    its destination, so events flow with no Meta account, and its claims can be fetched from
    the sandbox's ad account (``ad_account_id``: the sandbox's default account). Returns the
    key (shown once).

    The dataset's default country is what ``choose_country`` gives (asked only when the store
    is empty; the ``default_country`` setting when not given)."""
    if await store.list_datasets():
        return None
    country = (choose_country or (lambda: settings_country(settings)))()
    now = clock.now()
    await store.add_dataset(
        DEMO_DATASET, name="Demo dataset", default_country=country.country, now=now
    )
    key = new_key()
    await store.add_key(
        DEMO_DATASET, key_id=key.id, key_hash=key.key_hash, label="bootstrap", now=now
    )
    await store.add_destination(
        DEMO_DATASET,
        name=SANDBOX_DESTINATION,
        kind="meta",
        options={
            "pixel_id": DEMO_DATASET,
            "graph_url": "sandbox",
            "ad_account_id": SANDBOX_AD_ACCOUNT,
        },
        secrets={"access_token": Secret("sandbox-" + new_key().secret)},
        now=now,
    )
    return Bootstrap(DEMO_DATASET, key.secret, country)


def before_prune(
    settings: Settings, store: Store, clock: Clock
) -> Callable[[], Awaitable[int]] | None:
    """The worker's step before each pruning, unless ``attribution.enabled`` is off:
    attribution takes the new events in (and prunes its own evidence); every
    ``attribution.fetch_claims_hours``, a round fetching the platforms' claims starts in the
    background; every ``attribution.report_refresh_minutes``, a round computing the stale
    kept reports again (neither holds the pruning up)."""
    from zoneinfo import ZoneInfo

    from signalyard.attribution.fetch import ClaimsRefresher
    from signalyard.attribution.refresh import ReportRefresher

    a = settings.attribution
    if not a.enabled:
        return None
    attributor = make_attributor(store, clock, retention_days=a.retention_days)
    sync = attributor.sync_all
    rounds: list[Callable[[], Awaitable[int]]] = []
    if a.fetch_claims_hours > 0:
        rounds.append(
            ClaimsRefresher(
                store,
                clock,
                every_seconds=a.fetch_claims_hours * 3600,
                days=a.fetch_claims_days,
                sandbox_url=settings.resolved_sandbox_url,
            )
        )
    if a.report_refresh_minutes > 0:
        rounds.append(
            ReportRefresher(
                store,
                attributor,
                clock,
                every_seconds=a.report_refresh_minutes * 60,
                tz=ZoneInfo(a.time_zone),
                profile=a.window_profile,
                lens=a.lens,
                currency=a.reporting_currency,
                rates_base=a.rates_base,
            )
        )
    if not rounds:
        return sync
    return AttributionStep(sync, rounds)


class AttributionStep:
    """The worker's attribution step: take the new events in, then start the rounds that are
    due in the background; :meth:`aclose` (the worker stopping) cancels the rounds running."""

    def __init__(
        self, sync: Callable[[], Awaitable[int]], rounds: Sequence[Callable[[], Awaitable[int]]]
    ) -> None:
        self.sync = sync
        self.rounds = tuple(rounds)

    async def __call__(self) -> int:
        taken = await self.sync()
        for start in self.rounds:
            await start()
        return taken

    async def aclose(self) -> None:
        for started in self.rounds:
            close = getattr(started, "aclose", None)
            if close is not None:
                await close()


def make_attributor(store: Store, clock: Clock, *, retention_days: float = 400.0) -> Attributor:
    """Attribution over ``store``, with every registered platform's click windows."""
    from signalyard.sinks import REGISTRY

    return Attributor(
        store,
        clock,
        ((k, s.click_attribution) for k, s in REGISTRY.items()),
        retention_days=retention_days,
    )
