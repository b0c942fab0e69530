"""Column mappings for file imports: which column of a CSV (or key of a JSON line) fills which
field of the canonical event.

A mapping is a :class:`MappingSpec` (from a TOML file, ``--map COLUMN=FIELD`` options, or
nothing: automatic names) resolved against a file's header into a :class:`Plan`, which turns
one row into one raw server event (Meta's wire shape) for
:func:`~signalyard.transforms.pipeline.clean_event`. Nothing here validates Meta's rules or
touches personal data beyond copying it: the pipeline does that, per row.

Targets are canonical field paths: ``event_name``, ``event_time``, ``user_data.em``,
``custom_data.value``... A bare ``user_data`` key (``em``, ``lead_id``) or a standard
``custom_data`` key (``value``, ``order_id``) is accepted as a shorthand. ``-`` ignores a
column.
"""

from __future__ import annotations

import datetime
import re
import tomllib
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from signalyard.errors import ConfigError, InputError
from signalyard.sources.extensions import CLICK_ID_KINDS
from signalyard.transforms.user_data import HASHED_KEYS, PLAINTEXT_KEYS

__all__ = [
    "AUTO_NAMES",
    "IGNORE",
    "MappingSpec",
    "Plan",
    "auto_target",
    "check_target",
    "load_mapping",
    "parse_map_options",
    "parse_time",
    "resolve",
]

IGNORE = "-"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


TOP_LEVEL = frozenset(
    _words(
        """event_name event_time event_id action_source event_source_url referrer_url
        messaging_channel opt_out data_processing_options data_processing_options_country
        data_processing_options_state consent"""
    )
)
USER_KEYS = HASHED_KEYS | PLAINTEXT_KEYS
CUSTOM_KEYS = frozenset(
    _words(
        """value currency order_id content_ids content_name content_type content_category
        num_items predicted_ltv status search_string delivery_category"""
    )
)
PASSTHROUGH = frozenset(_words("user_data custom_data app_data original_event_data"))
"""JSON keys whose object value is taken as it is (JSON lines already in Meta's shape)."""

_CUSTOM_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_UNIX = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,9})?")
_INT_TEXT = re.compile(r"-?[0-9]{1,18}")
_SPLIT = re.compile(r"\s*[,;|]\s*")
_TRUE = frozenset(_words("1 true yes y on"))
_FALSE = frozenset(_words("0 false no n off"))
_HEADER_JUNK = re.compile(r"[^0-9a-z]+")

_AUTO_TABLE = """
user_data.em: email e_mail email_address e_mail_address mail customer_email
user_data.ph: phone phone_number mobile mobile_phone cell telephone tel customer_phone
user_data.fn: first_name firstname given_name fname
user_data.ln: last_name lastname surname family_name lname
user_data.ct: city town
user_data.st: state province region state_code
user_data.zp: zip zip_code zipcode postal_code postcode
user_data.country: country country_code
user_data.db: dob date_of_birth birthdate birth_date birthday
user_data.ge: gender sex
user_data.external_id: customer_id client_id member_id
user_data.lead_id: meta_lead_id fb_lead_id facebook_lead_id
user_data.page_scoped_user_id: psid
user_data.whatsapp_business_account_id: waba_id
click_ids.referral_ad_id: referral_ad_id
user_data.client_ip_address: ip_address ip
user_data.client_user_agent: user_agent
custom_data.value: amount total order_total revenue sale_amount
custom_data.currency: currency_code
custom_data.order_id: order_number order_no transaction_id receipt_id receipt_number invoice_id
custom_data.order_id: invoice_number order order_ref
event_time: timestamp date datetime created created_at order_date purchase_date transaction_date
event_time: sale_date
event_name: event
"""
"""Column names (normalized: lowercase, other characters as ``_``) mapped without a mapping,
besides every target's own name (``em``, ``lead_id``, ``value``, ``event_time``...)."""


def _auto_names() -> dict[str, str]:
    out = {}
    for line in _AUTO_TABLE.strip().splitlines():
        target, _, names = line.partition(":")
        out.update(dict.fromkeys(names.split(), target))
    for key in USER_KEYS:  # every target under its own name
        out.setdefault(key, f"user_data.{key}")
    for key in CUSTOM_KEYS:
        out.setdefault(key, f"custom_data.{key}")
    out.update({key: key for key in TOP_LEVEL})
    return out


AUTO_NAMES: Mapping[str, str] = _auto_names()
"""Normalized column name → target."""


def _normalized_header(name: str) -> str:
    return _HEADER_JUNK.sub("_", name.strip().lower()).strip("_")


def auto_target(column: str) -> str | None:
    """The target a column of this name maps to without a mapping, or None. A column named
    as a canonical path (``user_data.em``, ``custom_data.margin``) maps to it."""
    try:
        return check_target(column)
    except ConfigError:
        pass
    return AUTO_NAMES.get(_normalized_header(column))


def check_target(target: str) -> str:
    """``target`` as a full canonical path (``em`` → ``user_data.em``), or ``-`` (ignore).
    Raises :class:`ConfigError` for a field an import cannot set."""
    text = target.strip()
    if text in (IGNORE, ""):
        return IGNORE
    if text in TOP_LEVEL:
        return text
    if text in USER_KEYS:
        return f"user_data.{text}"
    if text in CUSTOM_KEYS:
        return f"custom_data.{text}"
    head, _, key = text.partition(".")
    if head == "user_data" and key in USER_KEYS:
        return text
    if head == "custom_data" and _CUSTOM_KEY.fullmatch(key):
        return text
    if head == "click_ids" and key in CLICK_ID_KINDS:
        return text
    raise ConfigError(
        f"{target!r} is not a field an import can set: use one of {', '.join(sorted(TOP_LEVEL))},"
        " user_data.<key> (em, ph, fn, ln, ..., lead_id, page_id, ctwa_clid...),"
        " custom_data.<name>, click_ids.<kind> (gclid, ..., referral_ad_id), or - to ignore"
        " the column"
    )


@dataclass(frozen=True, slots=True)
class MappingSpec:
    """What the user said: explicit columns, constant fields, stage names, time options."""

    columns: Mapping[str, str] = field(default_factory=dict)
    """Column (or JSON key, dotted for nested objects) → target or ``-``."""
    constants: Mapping[str, Any] = field(default_factory=dict)
    """Target → value for rows that leave it empty (``[set]``, ``--event-name``...)."""
    event_names: Mapping[str, str] = field(default_factory=dict)
    """Values of the ``event_name`` column → the event name to send (CRM stages)."""
    time_format: str | None = None
    """``strptime`` format of ``event_time`` when it is neither ISO 8601 nor Unix seconds."""
    timezone: str | None = None
    """Zone of ``event_time`` values that carry no offset (default UTC)."""
    auto: bool = True
    """Map columns not named in ``columns`` by their name (:data:`AUTO_NAMES`)."""

    def with_overrides(
        self, columns: Mapping[str, str], constants: Mapping[str, Any], **options: Any
    ) -> MappingSpec:
        """This spec with command-line options on top (they win; ``None`` leaves it)."""
        return replace(
            self,
            columns={**self.columns, **columns},
            constants={**self.constants, **constants},
            **{k: v for k, v in options.items() if v is not None},
        )

    def fingerprint(self) -> bytes:
        """Canonical bytes of the spec: part of an import's identity."""
        return orjson.dumps(
            {
                "columns": dict(self.columns),
                "constants": dict(self.constants),
                "event_names": dict(self.event_names),
                "time_format": self.time_format,
                "timezone": self.timezone,
                "auto": self.auto,
            },
            option=orjson.OPT_SORT_KEYS,
        )

    def tzinfo(self) -> datetime.tzinfo:
        if not self.timezone or self.timezone.upper() == "UTC":
            return datetime.UTC
        try:
            return zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"unknown time zone {self.timezone!r} (an IANA name such as Europe/Paris)"
            ) from None


def parse_map_options(items: Iterable[str]) -> dict[str, str]:
    """``["email=user_data.em", "notes=-"]`` → ``{"email": "user_data.em", "notes": "-"}``."""
    out: dict[str, str] = {}
    for item in items:
        column, sep, target = item.rpartition("=")
        if not sep or not column.strip():
            raise ConfigError(f"--map {item!r}: expected COLUMN=FIELD, e.g. email=user_data.em")
        out[column.strip()] = check_target(target)
    return out


_OPTIONS: dict[str, type] = {"time_format": str, "timezone": str, "auto": bool}


def load_mapping(path: str | Path) -> MappingSpec:
    """Read a TOML mapping file (format: docs/import.md)."""
    where = f"mapping file {path}"
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as error:
        raise ConfigError(f"cannot read {where}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{where} is not valid TOML: {error}") from None
    for name, table in doc.items():
        if name not in ("columns", "set", "event_names", "options"):
            raise ConfigError(
                f"{where}: unknown table [{name}] (expected [columns], [set],"
                " [event_names], [options])"
            )
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [{name}] must be a table")
    columns, names, options = (doc.get(k, {}) for k in ("columns", "event_names", "options"))
    for key, value in [*columns.items(), *names.items()]:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {key!r} must be given a string")
    for key, value in options.items():
        if not isinstance(value, _OPTIONS.get(key, type(None))):
            raise ConfigError(f"{where}: [options] {key} is unknown or of the wrong type")
    constants = {}
    for key, value in doc.get("set", {}).items():
        target = check_target(key)
        if target == IGNORE or isinstance(value, dict | list):
            raise ConfigError(f"{where}: [set] {key!r} must be a field and a single value")
        constants[target] = value
    return MappingSpec(
        columns={column: check_target(target) for column, target in columns.items()},
        constants=constants,
        event_names=names,
        time_format=options.get("time_format"),
        timezone=options.get("timezone"),
        auto=options.get("auto", True),
    )


# values -------------------------------------------------------------------------------------


def parse_time(text: str, time_format: str | None, tz: datetime.tzinfo) -> int:
    """``event_time`` from a cell: Unix seconds (a fraction is cut), ISO 8601 (``Z`` or an
    offset; none: ``tz``), or ``time_format``. Raises ``InputError("event_time", ...)``."""
    if text.isdigit() and text.isascii():
        return int(text)
    if _UNIX.fullmatch(text):
        return int(text.partition(".")[0])
    try:
        if time_format:
            moment = datetime.datetime.strptime(text, time_format)
        else:
            moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        expected = (
            f"the time format {time_format}"
            if time_format
            else "ISO 8601 (2026-11-20T14:03:00Z, 2026-11-20 14:03:00+07:00)"
        )
        raise InputError("event_time", f"must be {expected} or Unix seconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return int(moment.timestamp())


Convert = Callable[[str], Any]


def _flag(text: str) -> Any:
    low = text.lower()
    return True if low in _TRUE else False if low in _FALSE else text


def _integer(text: str) -> Any:
    return int(text) if _INT_TEXT.fullmatch(text) else text


def _items(text: str) -> list[str]:
    return [item for item in _SPLIT.split(text) if item]


def _converter(target: str, spec: MappingSpec) -> Convert | None:
    """How a non-empty cell (trimmed text) becomes the value of ``target``; None: as is."""
    if target == "event_time":
        time_format, tz = spec.time_format, spec.tzinfo()
        return lambda text: parse_time(text, time_format, tz)
    if target == "event_name" and spec.event_names:
        names = spec.event_names
        return lambda text: names.get(text, text)
    if target == "opt_out":
        return _flag
    if target in ("action_source", "messaging_channel"):
        return str.lower  # "WhatsApp", "Physical_Store": Meta's values are lowercase
    if target in (
        "data_processing_options_country",
        "data_processing_options_state",
        "custom_data.num_items",
    ):
        return _integer
    if target in ("data_processing_options", "custom_data.content_ids"):
        return _items
    return None


# plans --------------------------------------------------------------------------------------

Getter = Callable[[Any], Any]
"""Reads one source (a column index, or a JSON key) from a row."""


@dataclass(frozen=True, slots=True)
class Slot:
    target: str
    sources: tuple[Any, ...]
    """Column indices (CSV) or keys (JSON)."""
    columns: tuple[str, ...]
    """The source columns' names, for the error report."""
    convert: Convert | None
    multi: bool
    """Several columns feed one hashed ``user_data`` key: a list of their values."""
    container: str | None = field(init=False)
    """``user_data``/``custom_data``, or None for a top-level field."""
    key: str = field(init=False)

    def __post_init__(self) -> None:
        head, dot, key = self.target.partition(".")
        object.__setattr__(self, "container", head if dot else None)
        object.__setattr__(self, "key", key if dot else head)


@dataclass(frozen=True, slots=True)
class Plan:
    """A spec resolved against one header: how to build an event from a row."""

    slots: tuple[Slot, ...]
    constants: Mapping[str, Any]
    mapped: tuple[tuple[str, str, bool], ...]
    """(column, target, automatic) for the columns used."""
    ignored: tuple[str, ...]
    passthrough: bool
    """Take the object values of JSON keys ``user_data``, ``custom_data``... as they are."""

    def targets(self) -> set[str]:
        """The fields this plan can fill (from a column or a constant)."""
        return {slot.target for slot in self.slots} | set(self.constants)

    def columns_for(self, field_path: str) -> str:
        """The source column(s) behind an error's field (``user_data.em[1]``), or ``""``."""
        path = re.sub(r"\[[0-9]+\]", "", field_path)
        while path:
            for slot in self.slots:
                if slot.target == path:
                    return ", ".join(slot.columns)
            path = path.rpartition(".")[0]
        return ""

    def build(self, get: Getter, base: dict[str, Any] | None = None) -> dict[str, Any]:
        """One raw server event from a row; ``base`` (JSON lines) holds the fields taken as
        they are. Empty cells are absent. Raises ``InputError`` for a value that cannot be
        converted (an unreadable ``event_time``)."""
        event: dict[str, Any] = base if base is not None else {}
        for slot in self.slots:  # runs for every cell: kept flat
            if slot.multi:
                value: Any = _values(slot, get) or None
            else:
                value = get(slot.sources[0])
                if type(value) is str:
                    value = value.strip()
                    if value and slot.convert is not None:
                        value = slot.convert(value)
            if value is None or value == "":
                continue
            container = slot.container
            if container is None:
                event[slot.key] = value
                continue
            inner = event.get(container)
            if type(inner) is not dict:
                inner = event[container] = {} if inner is None else inner
                if type(inner) is not dict:
                    continue  # a malformed passthrough object: the pipeline names it
            inner[slot.key] = value
        for target, value in self.constants.items():
            _fill(event, target, value)
        return event


def _values(slot: Slot, get: Getter) -> list[Any]:
    values = []
    for source in slot.sources:
        value = get(source)
        if isinstance(value, str):
            value = value.strip()
            if not value:
                continue
        elif value is None:
            continue
        values.append(value)
    return values


def _fill(event: dict[str, Any], target: str, value: Any) -> None:
    """Set ``target`` to a constant unless the row gave it a value."""
    head, dot, key = target.partition(".")
    if not dot:
        if event.get(head) in (None, ""):
            event[head] = value
        return
    inner = event.get(head)
    if inner is None:
        inner = event[head] = {}
    if isinstance(inner, dict) and inner.get(key) in (None, ""):
        inner[key] = value


def resolve(spec: MappingSpec, names: Sequence[str], *, by_name: bool = False) -> Plan:
    """Resolve ``spec`` against a header (``names``).

    The getter of :meth:`Plan.build` is given the column index, or with ``by_name`` (JSON
    lines) the name. Explicitly mapped columns win over automatic ones for the same target;
    two columns for a single-valued target are an error (several for a hashed ``user_data``
    key are sent as a list). With a header (not ``by_name``), a mapped column the header lacks
    is an error: it is most likely a typo."""
    if not by_name:
        missing = [c for c, t in spec.columns.items() if t != IGNORE and c not in names]
        if missing:
            raise ConfigError(
                f"the mapping names column(s) {', '.join(map(repr, missing))} that the file"
                f" does not have (its columns: {', '.join(map(repr, names))})"
            )
    by_target: dict[str, list[tuple[int, str, bool]]] = {}
    for i, name in enumerate(names):
        target = spec.columns.get(name)
        automatic = target is None
        if target is not None:
            target = check_target(target)
        if target is None and spec.auto:
            target = auto_target(name)
        if target is not None and target != IGNORE:
            by_target.setdefault(target, []).append((i, name, automatic))
    slots = []
    mapped: list[tuple[str, str, bool]] = []
    for target, found in by_target.items():
        chosen = [f for f in found if not f[2]] or found
        multi = target.startswith("user_data.") and target.partition(".")[2] in HASHED_KEYS
        if len(chosen) > 1 and not multi:
            columns = ", ".join(repr(name) for _, name, _ in chosen)
            raise ConfigError(
                f"columns {columns} all map to {target}: keep one and ignore the others"
                " (--map COLUMN=-)"
            )
        slots.append(
            Slot(
                target=target,
                sources=tuple(name if by_name else i for i, name, _ in chosen),
                columns=tuple(name for _, name, _ in chosen),
                convert=_converter(target, spec),
                multi=len(chosen) > 1,
            )
        )
        mapped.extend((name, target, automatic) for _, name, automatic in chosen)
    used = {name for name, _, _ in mapped}
    return Plan(
        slots=tuple(slots),
        constants=dict(spec.constants),
        mapped=tuple(mapped),
        ignored=tuple(name for name in names if name not in used),
        passthrough=spec.auto,
    )
