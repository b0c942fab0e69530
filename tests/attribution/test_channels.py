from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalyard.attribution.channels import (
    CHANNELS,
    MAX_URL,
    SEARCH_ENGINES,
    SOCIAL_NETWORKS,
    Landing,
    classify,
)

SITE = "https://shop.example/p/1"
CLICKS = {"gclid": "paid_search", "fbclid": "paid_social", "ScCid": "paid_social"}

# (id, url, referrer, expected (channel, detail, campaign) or None)
CASES: list[tuple[str, str | None, str | None, tuple[str, str, str | None] | None]] = [
    # not a landing
    ("internal", SITE, "https://shop.example/", None),
    ("internal-www-referrer", SITE, "https://www.shop.example/cart", None),
    ("internal-www-url", "https://WWW.Shop.Example/p", "https://shop.example/", None),
    ("internal-port-userinfo", SITE, "https://u:p@shop.example:443/x", None),
    ("internal-blank-utm", SITE + "?utm_source=&gclid=", "https://shop.example/", None),
    # click ids
    ("gclid", SITE + "?gclid=abc", None, ("paid_search", "gclid", None)),
    (
        "fbclid",
        SITE + "?x=1&fbclid=abc",
        "https://l.facebook.com/",
        ("paid_social", "fbclid", None),
    ),
    ("click-id-case", SITE + "?sccid=1", None, ("paid_social", "ScCid", None)),
    (
        "click-id-beats-utm",
        SITE + "?utm_medium=email&gclid=1",
        None,
        ("paid_search", "gclid", None),
    ),
    (
        "click-id-internal",
        SITE + "?gclid=1",
        "https://shop.example/",
        ("paid_search", "gclid", None),
    ),
    (
        "click-id-campaign",
        SITE + "?gclid=1&utm_campaign=Spring",
        None,
        ("paid_search", "gclid", "spring"),
    ),
    ("unknown-click-id", SITE + "?msclkid=1", None, ("direct", "", None)),
    # UTMs
    (
        "cpc-google",
        SITE + "?utm_source=google&utm_medium=cpc&utm_campaign=brand",
        None,
        ("paid_search", "google", "brand"),
    ),
    (
        "ppc-bing-host",
        SITE + "?utm_source=bing.com&utm_medium=ppc",
        None,
        ("paid_search", "bing.com", None),
    ),
    (
        "paid-facebook",
        SITE + "?utm_source=facebook&utm_medium=paid",
        None,
        ("paid_social", "facebook", None),
    ),
    (
        "cpc-other",
        SITE + "?utm_source=partner&utm_medium=cpc",
        None,
        ("paid_other", "partner", None),
    ),
    ("cpc-no-source", SITE + "?utm_medium=sem", None, ("paid_other", "sem", None)),
    (
        "paidsocial",
        SITE + "?utm_source=ig&utm_medium=paidsocial",
        None,
        ("paid_social", "ig", None),
    ),
    (
        "social-paid-any-source",
        SITE + "?utm_source=acme&utm_medium=social_paid",
        None,
        ("paid_social", "acme", None),
    ),
    (
        "email",
        SITE + "?utm_source=klaviyo&utm_medium=e-mail&utm_id=42",
        None,
        ("email", "klaviyo", "42"),
    ),
    ("newsletter-no-source", SITE + "?utm_medium=newsletter", None, ("email", "newsletter", None)),
    ("sms", SITE + "?utm_source=twilio&utm_medium=text", None, ("sms", "twilio", None)),
    (
        "affiliate",
        SITE + "?utm_source=awin&utm_medium=affiliates",
        None,
        ("affiliate", "awin", None),
    ),
    ("display", SITE + "?utm_source=gdn&utm_medium=cpm", None, ("display", "gdn", None)),
    (
        "organic-social",
        SITE + "?utm_source=x&utm_medium=social-media",
        None,
        ("organic_social", "x", None),
    ),
    (
        "organic",
        SITE + "?utm_source=google&utm_medium=organic",
        None,
        ("organic_search", "google", None),
    ),
    (
        "referral-medium",
        SITE + "?utm_source=blog&utm_medium=referral",
        None,
        ("referral", "blog", None),
    ),
    ("other-medium", SITE + "?utm_source=print&utm_medium=qr", None, ("other", "print", None)),
    (
        "utm-names-case-values-stripped",
        SITE + "?UTM_Source=+Google+&Utm_Medium=CPC&UTM_CAMPAIGN=Summer",
        None,
        ("paid_search", "google", "summer"),
    ),
    (
        "utm-beats-referrer",
        SITE + "?utm_source=news&utm_medium=email",
        "https://google.com/",
        ("email", "news", None),
    ),
    (
        "utm-internal-referrer",
        SITE + "?utm_source=fb&utm_medium=cpc",
        "https://shop.example/",
        ("paid_social", "fb", None),
    ),
    (
        "source-only-search",
        SITE + "?utm_source=duckduckgo",
        None,
        ("organic_search", "duckduckgo", None),
    ),
    ("source-only-site", SITE + "?utm_source=chatgpt.com", None, ("referral", "chatgpt.com", None)),
    (
        "unknown-medium-no-source",
        SITE + "?utm_medium=qr",
        "https://news.example/",
        ("referral", "news.example", None),
    ),
    (
        "campaign-only-internal",
        SITE + "?utm_campaign=x",
        "https://shop.example/",
        ("direct", "", "x"),
    ),
    # referrer host
    ("google-co-uk", SITE, "https://www.google.co.uk/", ("organic_search", "google.co.uk", None)),
    ("google-de", SITE, "https://google.de/search?q=a", ("organic_search", "google.de", None)),
    (
        "yahoo-search",
        SITE,
        "https://uk.search.yahoo.com/",
        ("organic_search", "uk.search.yahoo.com", None),
    ),
    ("brave", SITE, "https://search.brave.com/", ("organic_search", "search.brave.com", None)),
    ("yandex", SITE, "https://yandex.com.tr/", ("organic_search", "yandex.com.tr", None)),
    ("not-google", SITE, "https://google.example.com/", ("referral", "google.example.com", None)),
    ("lookalike", SITE, "https://mygoogle.com/", ("referral", "mygoogle.com", None)),
    (
        "facebook-lm",
        SITE,
        "https://lm.facebook.com/l.php",
        ("organic_social", "lm.facebook.com", None),
    ),
    ("t-co", SITE, "https://t.co/abc", ("organic_social", "t.co", None)),
    (
        "pinterest-star",
        SITE,
        "https://www.pinterest.co.uk/",
        ("organic_social", "pinterest.co.uk", None),
    ),
    ("gmail", SITE, "https://mail.google.com/", ("email", "mail.google.com", None)),
    ("yahoo-mail", SITE, "https://mail.yahoo.com/d/", ("email", "mail.yahoo.com", None)),
    ("outlook", SITE, "https://outlook.live.com/", ("email", "outlook.live.com", None)),
    ("referral", SITE, "https://WWW.Blog.Example:8080/post", ("referral", "blog.example", None)),
    ("referral-ipv6", SITE, "http://[2001:db8::1]:80/", ("referral", "2001:db8::1", None)),
    ("referral-no-url", None, "https://blog.example/", ("referral", "blog.example", None)),
    # direct
    ("direct", SITE, None, ("direct", "", None)),
    ("direct-empty", SITE, "", ("direct", "", None)),
    ("direct-unparsable", SITE, "http://[::1/", ("direct", "", None)),
    ("direct-no-host", SITE, "about:blank", ("direct", "", None)),
    ("nothing", None, None, ("direct", "", None)),
]


@pytest.mark.parametrize(
    ("url", "referrer", "expected"),
    [pytest.param(u, r, e, id=i) for i, u, r, e in CASES],
)
def test_classify(
    url: str | None, referrer: str | None, expected: tuple[str, str, str | None] | None
) -> None:
    got = classify(url, referrer, click_channels=CLICKS)
    assert got == (None if expected is None else Landing(*expected))


def test_site_host_overrides_url_host() -> None:
    url = "https://checkout.example/pay"
    assert classify(url, "https://shop.example/", site_host="www.Shop.Example") is None
    assert classify(url, "https://checkout.example/", site_host="shop.example") == Landing(
        "referral", "checkout.example", None
    )
    assert classify(url, "https://shop.example/", site_host="shop.example:8443") is None


def test_click_channel_outside_channels_is_paid_other() -> None:
    assert classify(SITE + "?epik=1", None, click_channels={"epik": "video"}) == Landing(
        "paid_other", "epik", None
    )


def test_over_long_url_is_absent() -> None:
    url = SITE + "?gclid=1&pad=" + "a" * MAX_URL
    assert classify(url, None, click_channels=CLICKS) == Landing("direct", "", None)
    # without a URL there is no own host: the site's referrer is just a referrer
    assert classify(url, "https://shop.example/") == Landing("referral", "shop.example", None)
    assert classify(url, "https://shop.example/", site_host="shop.example") is None


def test_over_long_referrer_is_absent() -> None:
    assert classify(SITE, "https://google.com/?" + "q" * MAX_URL) == Landing("direct", "", None)


def test_query_fields_are_bounded() -> None:
    url = SITE + "?" + "a=1&" * 500 + "gclid=1"
    assert classify(url, None, click_channels=CLICKS) == Landing("direct", "", None)
    url = SITE + "?gclid=1&" + "a=1&" * 500
    assert classify(url, None, click_channels=CLICKS) == Landing("paid_search", "gclid", None)


def test_lists_are_frozensets() -> None:
    assert isinstance(SEARCH_ENGINES, frozenset)
    assert isinstance(SOCIAL_NETWORKS, frozenset)


URLISH = st.one_of(
    st.none(),
    st.text(max_size=80),
    st.builds(
        lambda scheme, host, rest: f"{scheme}://{host}{rest}",
        st.sampled_from(["http", "https", "", "android-app", "x"]),
        st.one_of(
            st.sampled_from(
                ["shop.example", "www.google.co.uk", "[::1]", "[::1", "u@h:99", "mail.google.com"]
            ),
            st.text(max_size=20),
        ),
        st.text(max_size=60).map(lambda t: "/?" + t),
    ),
    st.builds(
        lambda pairs: SITE + "?" + "&".join(f"{k}={v}" for k, v in pairs),
        st.lists(
            st.tuples(
                st.sampled_from(["utm_source", "UTM_MEDIUM", "utm_campaign", "gclid", "x"]),
                st.text(max_size=12),
            ),
            max_size=6,
        ),
    ),
)


@settings(max_examples=400, deadline=None)
@given(
    url=URLISH,
    referrer=URLISH,
    site_host=st.one_of(st.none(), st.text(max_size=20), st.just("[::1")),
    click_channels=st.dictionaries(st.text(max_size=8), st.sampled_from(CHANNELS), max_size=3),
)
def test_never_raises(
    url: str | None, referrer: str | None, site_host: str | None, click_channels: dict[str, str]
) -> None:
    got = classify(url, referrer, site_host=site_host, click_channels=click_channels)
    assert got is None or (isinstance(got, Landing) and got.channel in CHANNELS)
