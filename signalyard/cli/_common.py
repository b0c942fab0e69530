"""What every ``signalyard`` command shares: settings read once, the store opened for one
command, errors turned into clean messages."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from signalyard.errors import ConfigError, SignalyardError
from signalyard.runtime import make_store, migrate_schema
from signalyard.settings import Settings, load_settings
from signalyard.store.base import Destination, Store

T = TypeVar("T")


def settings_from(ctx: click.Context, **overrides: Any) -> Settings:
    try:
        return load_settings(ctx.obj.get("config"), **overrides)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def with_store(settings: Settings, fn: Callable[[Store], Awaitable[T]]) -> T:
    async def run() -> T:
        store = make_store(settings)
        await store.open()
        try:
            return await fn(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except SignalyardError as error:
        raise click.ClickException(str(error)) from None


def ensure_schema(settings: Settings) -> None:
    try:
        migrate_schema(settings)
    except SignalyardError as error:
        raise click.ClickException(str(error)) from None


def find_destination(destinations: list[Destination], name: str) -> Destination:
    """A destination by name or id; a clean error when none or several match."""
    matches = [d for d in destinations if d.name == name or str(d.id) == name]
    if not matches:
        raise click.ClickException(f"no destination {name}")
    if len(matches) > 1:
        raise click.ClickException(f"several destinations are named {name}: use the id")
    return matches[0]


def ago(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"
