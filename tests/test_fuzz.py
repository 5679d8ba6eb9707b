"""Fuzzing what hostile pages feed the crawler: URLs, feed and sitemap entries.

Short runs (a few hundred examples each): enough to catch an exception class
that escapes the per-entry isolation, without slowing the suite.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from scrapy import Request
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

from crawler import settings as project_settings
from crawler.page.discovery import Entry, feed_entries, sitemap_entries
from crawler.page.sanitize import StoreLimits, clean_json, clean_text, storable_url
from crawler.spiders.news import NewsSpider
from crawler.page.urls import canonicalize, check_url, same_site, site_of

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:feedparser")

SITE_BASE = "http://127.0.0.1:8000"
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Pieces URLs are made of, hostile ones included: bad ports, broken IPv6 literals,
# other schemes, controls, percent signs, non-ASCII hosts.
_schemes = st.sampled_from(["http", "https", "file", "ftp", "data", "javascript", "HTTP", "", "h\ttp"])
_hosts = st.sampled_from(["127.0.0.1:8000", "127.0.0.1:99999", "127.0.0.1:-1", "127.0.0.1:abc", "[::1",
                          "[::1]:8000", "[fe80::1%25eth0]", "[zz::1]", "exämple.com", "xn--bcher-kva.example",
                          "", "user:pw@127.0.0.1:8000", "127.0.0.1:8000:9", "%00", "a" * 300])
_paths = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
urls = st.one_of(
    st.builds(lambda s, h, p: f"{s}://{h}/{p}", _schemes, _hosts, _paths),
    st.text(max_size=80),
)


@FUZZ
@given(urls)
def test_url_helpers_raise_only_value_errors(url):
    try:
        canonicalize(url)
    except ValueError:
        pass
    try:
        check_url(url)
    except ValueError:
        pass
    try:
        site_of(url)
    except ValueError:
        pass
    assert same_site(url, "127.0.0.1:8000") in (True, False)  # never raises


def _spider():
    project = {name: value for name, value in vars(project_settings).items() if name.isupper()}
    crawler = get_crawler(NewsSpider, {**project, "DATABASE_URL": "sqlite:///:memory:", "NEWSCRAWL_MAX_LISTING_ENTRIES": 50})
    return NewsSpider.from_crawler(crawler, urls=SITE_BASE + "/"), crawler.stats


_SKIPS = ("bad_url", "offsite", "known", "before_since", "over_entries_per_listing")


@FUZZ
@given(st.lists(urls, max_size=60))
def test_every_feed_entry_is_a_request_or_one_recorded_skip(entry_urls):
    spider, stats = _spider()
    response = TextResponse(SITE_BASE + "/feed.xml", body=b"<rss/>", encoding="utf-8")
    requests = list(spider._from_entries(response, [Entry(u) for u in entry_urls], "127.0.0.1:8000", "feed"))
    assert all(isinstance(r, Request) and same_site(r.url, "127.0.0.1:8000") for r in requests)
    skipped = sum(stats.get_value(f"newscrawl/skipped/{reason}", 0) for reason in _SKIPS)
    assert len(requests) + skipped == len(entry_urls)


def _xml_text(url: str) -> str:
    return url.replace("&", "&amp;").replace("<", "&lt;").replace("]]>", "")


@FUZZ
@given(st.lists(urls, max_size=20), st.sampled_from(["sitemap", "rss", "atom"]), st.binary(max_size=40))
def test_feed_and_sitemap_parsers_fail_only_as_the_spider_expects(entry_urls, kind, junk):
    items = "".join(f"<url><loc>{_xml_text(u)}</loc><lastmod>{_xml_text(u)[:20]}</lastmod></url>" for u in entry_urls)
    if kind == "sitemap":
        body = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</urlset>'
    elif kind == "rss":
        body = "<rss version='2.0'><channel>" + "".join(
            f"<item><link>{_xml_text(u)}</link><pubDate>{_xml_text(u)[:30]}</pubDate></item>" for u in entry_urls
        ) + "</channel></rss>"
    else:
        body = "<feed xmlns='http://www.w3.org/2005/Atom'>" + "".join(
            f"<entry><link href='{_xml_text(u).replace(chr(39), '')}'/><updated>{_xml_text(u)[:25]}</updated></entry>"
            for u in entry_urls) + "</feed>"
    data = body.encode("utf-8", "surrogatepass")
    for payload in (data, data[: len(data) // 2] + junk):  # whole, and cut short with junk at the end
        try:
            entries = sitemap_entries(payload) if kind == "sitemap" else feed_entries(payload)
        except (ValueError, etree.LxmlError):
            continue  # the spider records these as bad_sitemap / bad_feed
        assert all(isinstance(e, Entry) and isinstance(e.url, str) for e in entries)


@FUZZ
@given(st.text(max_size=200), st.recursive(st.text(max_size=20), lambda c: st.lists(c, max_size=4)
                                          | st.dictionaries(st.text(max_size=5), c, max_size=4), max_leaves=10))
def test_sanitised_values_are_storable_everywhere(text, json_value):
    cleaned = clean_text(text)
    assert not any(ord(ch) < 32 and ch not in "\t\n\r" for ch in cleaned)
    cleaned.encode("utf-8")  # no lone surrogates: PostgreSQL and SQLite both take it
    assert "\x00" not in repr(clean_json(json_value)).replace("\\x00", "\x00")
    try:
        url = storable_url(text, StoreLimits(url_chars=100))
        assert len(url) <= 100
    except Exception as exc:  # only the documented skip
        assert getattr(exc, "reason", None) == "url_too_long"
