"""Landing -> channel: one page view (its URL and ``document.referrer``) classified, pure.

In the spirit of GA4's default channel grouping, first rule that applies wins:

1. **Not a landing** (``None``): the referrer's host is the site's own (``site_host``, else the
   URL's host; ``www.`` ignored) and the URL carries no campaign parameter (no non-empty
   ``utm_*``, no click id).
2. **Click id**: a query parameter named in ``click_channels`` (kind -> channel, names matched
   case-insensitively) -> that channel; detail = the kind.
3. **UTMs** (names case-insensitive, values stripped and lowercased), by ``utm_medium``: paid
   (``cpc``, ``ppc``...) -> ``paid_search`` / ``paid_social`` / ``paid_other`` by whether
   ``utm_source`` is a search engine, a social network or neither; then ``paid_social``,
   ``email``, ``sms``, ``affiliate``, ``display``, ``organic_social``, ``organic_search``,
   ``referral`` by their medium lists (:data:`MEDIUMS`); any other medium with a source ->
   ``other``. A source without a medium -> ``organic_search`` / ``organic_social`` / ``email``
   by the source, else ``referral``. Detail = the source (else the medium).
4. **Referrer host** (another site's): search engine -> ``organic_search``, social network ->
   ``organic_social``, webmail -> ``email``, else ``referral``; detail = the host (lowercased,
   no ``www.``).
5. Else (no referrer, an unparsable one, or the site's own) -> ``direct``, detail ``""``.

``campaign`` is ``utm_campaign`` (else ``utm_id``) whenever the URL has it, whatever decided
the channel. A URL or referrer over :data:`MAX_URL` characters is treated as absent; at most
:data:`MAX_FIELDS` query fields are read. Never raises on any string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import SplitResult, parse_qsl, urlsplit

__all__ = [
    "CHANNELS",
    "DIRECT",
    "MAX_FIELDS",
    "MAX_URL",
    "MEDIUMS",
    "SEARCH_ENGINES",
    "SOCIAL_NETWORKS",
    "WEBMAIL_HOSTS",
    "Landing",
    "classify",
]

DIRECT = "direct"
CHANNELS = (
    "paid_search",
    "paid_social",
    "paid_other",
    "display",
    "affiliate",
    "email",
    "sms",
    "organic_search",
    "organic_social",
    "referral",
    "other",
    DIRECT,
)
"""Every channel :func:`classify` returns."""

MAX_URL = 4096
"""A URL or referrer longer than this is treated as absent."""
MAX_FIELDS = 200
"""Query fields read from a URL (the rest are ignored)."""

SEARCH_ENGINES = frozenset(
    {
        "google.*",
        "bing.com",
        "duckduckgo.com",
        "search.yahoo.*",
        "baidu.com",
        "yandex.*",
        "ecosia.org",
        "ask.com",
        "naver.com",
        "seznam.cz",
        "qwant.com",
        "startpage.com",
        "search.brave.com",
    }
)
"""Search engine hosts. ``name.*`` matches the name label followed by a public suffix (``com``,
``de``, ``co.uk``...), with any subdomains; any other entry matches itself and its
subdomains."""
SOCIAL_NETWORKS = frozenset(
    {
        "facebook.com",
        "instagram.com",
        "t.co",
        "twitter.com",
        "x.com",
        "linkedin.com",
        "lnkd.in",
        "pinterest.*",
        "reddit.com",
        "tiktok.com",
        "youtube.com",
        "snapchat.com",
        "threads.net",
        "whatsapp.com",
        "messenger.com",
    }
)
"""Social network hosts (patterns as :data:`SEARCH_ENGINES`)."""
WEBMAIL_HOSTS = frozenset(
    {
        "mail.google.com",
        "outlook.live.com",
        "outlook.office.com",
        "outlook.office365.com",
        "mail.yahoo.com",
        "mail.aol.com",
        "mail.proton.me",
        "mail.zoho.com",
        "mail.yandex.ru",
        "mail.yandex.com",
        "app.fastmail.com",
    }
)
"""Webmail hosts (and their subdomains); checked before the search engines."""

SEARCH_SOURCES = frozenset(
    {
        "google",
        "bing",
        "duckduckgo",
        "yahoo",
        "baidu",
        "yandex",
        "ecosia",
        "ask",
        "naver",
        "seznam",
        "qwant",
        "startpage",
        "brave",
    }
)
"""``utm_source`` names of search engines (a source with a dot is matched as a host)."""
SOCIAL_SOURCES = frozenset(
    {
        "facebook",
        "fb",
        "meta",
        "instagram",
        "ig",
        "twitter",
        "x",
        "linkedin",
        "pinterest",
        "reddit",
        "tiktok",
        "youtube",
        "snapchat",
        "threads",
        "whatsapp",
        "messenger",
    }
)
"""``utm_source`` names of social networks."""
EMAIL_SOURCES = frozenset({"email", "e-mail", "e_mail", "e mail", "newsletter"})

_PAID = frozenset({"cpc", "ppc", "paid", "paidsearch", "paid_search", "sem"})
MEDIUMS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "paid_social": frozenset({"paid_social", "paidsocial", "social_paid"}),
        "email": frozenset({"email", "e-mail", "e_mail", "newsletter"}),
        "sms": frozenset({"sms", "text"}),
        "affiliate": frozenset({"affiliate", "affiliates"}),
        "display": frozenset({"display", "banner", "cpm"}),
        "organic_social": frozenset(
            {"social", "social-network", "social-media", "sm", "organic_social"}
        ),
        "organic_search": frozenset({"organic"}),
        "referral": frozenset({"referral"}),
    }
)
"""Channel -> the ``utm_medium`` values that make it (after the paid mediums, which go by the
source: ``cpc``, ``ppc``, ``paid``, ``paidsearch``, ``paid_search``, ``sem``)."""

_SECOND_LEVEL = frozenset(
    {"co", "com", "net", "org", "gov", "edu", "ac", "ne", "or", "go", "gob", "gen", "biz"}
)
"""Second-level labels of country suffixes (``co.uk``, ``com.au``), for ``name.*``."""


@dataclass(frozen=True, slots=True)
class Landing:
    """The start of a visit."""

    channel: str
    """One of :data:`CHANNELS`."""
    detail: str
    """What decided it: the click id kind, the ``utm_source`` (else ``utm_medium``), the
    referrer's host, or ``""`` (direct)."""
    campaign: str | None
    """``utm_campaign``, else ``utm_id``, when the URL has one."""


def classify(
    url: str | None,
    referrer: str | None,
    *,
    site_host: str | None = None,
    click_channels: Mapping[str, str] = MappingProxyType({}),
) -> Landing | None:
    """The channel of the visit a page view with ``url`` and ``referrer`` starts, or ``None``
    when it starts none (internal navigation without campaign parameters). See the module."""
    page = _split(url)
    own = _normal_host(site_host) if site_host is not None else None
    if own is None and page is not None:
        own = _host(page)
    ref = _split(referrer)
    ref_host = _host(ref) if ref is not None else None
    if ref_host is not None and ref_host == own:
        ref_host = None
        internal = True
    else:
        internal = False

    params = _params(page) if page is not None else []
    kinds = {k.lower(): k for k in click_channels}
    utm: dict[str, str] = {}
    click: str | None = None
    for name, value in params:
        value = value.strip()
        if not value:
            continue
        key = name.strip().lower()
        if click is None and key in kinds:
            click = kinds[key]
        elif key.startswith("utm_") and key not in utm:
            utm[key] = value.lower()
    if internal and click is None and not utm:
        return None

    campaign = utm.get("utm_campaign") or utm.get("utm_id")
    if click is not None:
        channel = click_channels[click]
        return Landing(channel if channel in CHANNELS else "paid_other", click, campaign)
    decided = _by_utm(utm.get("utm_medium", ""), utm.get("utm_source", ""))
    if decided is not None:
        return Landing(decided[0], decided[1], campaign)
    if ref_host is not None:
        return Landing(_by_host(ref_host), ref_host, campaign)
    return Landing(DIRECT, "", campaign)


def _by_utm(medium: str, source: str) -> tuple[str, str] | None:
    """(channel, detail) from the UTMs, or ``None`` when they decide nothing."""
    detail = source or medium
    if not medium:
        if not source:
            return None
        kind = _source_kind(source)
        if kind == "search":
            return "organic_search", detail
        if kind == "social":
            return "organic_social", detail
        return ("email" if source in EMAIL_SOURCES else "referral"), detail
    if medium in _PAID:
        kind = _source_kind(source)
        channel = {"search": "paid_search", "social": "paid_social"}.get(kind, "paid_other")
        return channel, detail
    for channel, mediums in MEDIUMS.items():
        if medium in mediums:
            return channel, detail
    return ("other", detail) if source else None


def _source_kind(source: str) -> str:
    """``search``, ``social`` or ``""`` for a ``utm_source`` (a name, or a host when dotted)."""
    if source in SEARCH_SOURCES:
        return "search"
    if source in SOCIAL_SOURCES:
        return "social"
    if "." in source:
        host = _normal_host(source)
        if host is not None and not _matches(host, WEBMAIL_HOSTS):
            if _matches(host, SEARCH_ENGINES):
                return "search"
            if _matches(host, SOCIAL_NETWORKS):
                return "social"
    return ""


def _by_host(host: str) -> str:
    if _matches(host, WEBMAIL_HOSTS):
        return "email"
    if _matches(host, SEARCH_ENGINES):
        return "organic_search"
    if _matches(host, SOCIAL_NETWORKS):
        return "organic_social"
    return "referral"


MAX_HOST = 253
"""A DNS name's longest; a longer "host" is not one (and is not looked at further)."""
MAX_LABELS = 8
"""Labels of a host compared with the lists: every pattern has fewer, so only a host's last
ones can match (``a.b.c...google.com`` is read as its last eight labels)."""


def _matches(host: str, patterns: frozenset[str]) -> bool:
    """Whether ``host`` (normalized) is one of ``patterns`` or a subdomain of one. Bounded:
    at most :data:`MAX_LABELS` tails of at most :data:`MAX_LABELS` labels each."""
    if len(host) > MAX_HOST:
        return False
    labels = host.split(".")[-MAX_LABELS:]
    for i in range(len(labels)):
        tail = labels[i:]
        if ".".join(tail) in patterns:
            return True
        # name.* : the name label(s), then a public suffix of one label or a known second
        # level and one label (google.de, google.co.uk; not google.example.com).
        for cut in (1, 2):
            if len(tail) <= cut:
                break
            suffix = tail[-cut:]
            if cut == 2 and suffix[0] not in _SECOND_LEVEL:
                continue
            if ".".join([*tail[:-cut], "*"]) in patterns:
                return True
    return False


def _split(text: str | None) -> SplitResult | None:
    if text is None or len(text) > MAX_URL:
        return None
    try:
        return urlsplit(text.strip())
    except ValueError:
        return None


def _host(parts: SplitResult) -> str | None:
    try:
        host = parts.hostname
    except ValueError:
        return None
    return _clean(host) if host else None


def _normal_host(host: str) -> str | None:
    """A host as given by a caller or a ``utm_source`` (maybe with a scheme, port or path),
    normalized as :func:`_clean`; ``None`` if empty or unparsable."""
    text = host.strip()
    if any(c in text for c in "/:@[?#"):
        parts = _split(text if "//" in text else "//" + text)
        return _host(parts) if parts is not None else None
    return _clean(text)


def _clean(host: str) -> str | None:
    """Lowercased, without a trailing dot or a leading ``www.``; ``None`` if empty."""
    host = host.strip().lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    return host or None


def _params(parts: SplitResult) -> list[tuple[str, str]]:
    query = "&".join(parts.query.split("&", MAX_FIELDS)[:MAX_FIELDS])
    try:
        return parse_qsl(query, max_num_fields=MAX_FIELDS)
    except ValueError:
        return []
