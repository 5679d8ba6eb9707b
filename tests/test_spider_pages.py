"""The spider's page callback in-process (scrapy.utils.test.get_crawler): gzipped sitemaps and
feeds, and the article decision made by the worker that reads each page."""
from __future__ import annotations

import asyncio
import gzip

import pytest
import scrapy
from scrapy.http import HtmlResponse, Response
from scrapy.utils.project import get_project_settings
from scrapy.utils.reactor import install_reactor, is_reactor_installed
from scrapy.utils.test import get_crawler

from crawler.items import PageItem
from crawler.spiders.news import NewsSpider

SITE = "http://news.example"
SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>http://news.example/2025/01/28/one-story-here/</loc></url>
<url><loc>http://news.example/2025/01/29/two-story-here/</loc></url>
</urlset>"""
INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>http://news.example/sitemap-1.xml.gz</loc></sitemap></sitemapindex>"""


@pytest.fixture
def spider(tmp_path):
    if not is_reactor_installed():
        install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    project = {k: v for k, v in get_project_settings().copy_to_dict().items() if k != "TWISTED_REACTOR"}
    crawler = get_crawler(NewsSpider, settings_dict={
        **project, "NEWSCRAWL_EXTRACT_PROCESSES": 0, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "DOWNLOAD_MAXSIZE": 64 * 1024,
    })
    spider = NewsSpider.from_crawler(crawler, urls=SITE + "/")
    crawler.stats.open_spider()
    return spider


def run(spider, response):
    async def collect():
        return [out async for out in spider.parse_page(response)]
    return asyncio.run(collect())


def response(url: str, body: bytes, content_type: str, cls=Response):
    request = scrapy.Request(url, meta={"site": "news.example", "via": "start"})
    return cls(url, body=body, headers={"Content-Type": content_type}, request=request)


@pytest.mark.parametrize("content_type", ["application/x-gzip", "application/gzip", "application/octet-stream"])
def test_gzipped_sitemap_lists_the_same_urls_as_the_plain_one(spider, content_type):
    plain = [r.url for r in run(spider, response(SITE + "/sitemap.xml", SITEMAP, "application/xml"))]
    zipped = [r.url for r in run(spider, response(SITE + "/sitemap.xml.gz", gzip.compress(SITEMAP), content_type))]
    assert zipped == plain and len(plain) == 2


def test_gzipped_sitemap_index_leads_to_gzipped_children(spider):
    children = run(spider, response(SITE + "/sitemap_index.xml.gz", gzip.compress(INDEX), "application/x-gzip"))
    assert [r.url for r in children] == [SITE + "/sitemap-1.xml.gz"]


def test_a_gzip_bomb_is_skipped_with_its_reason(spider):
    bomb = gzip.compress(b"<urlset>" + b" " * (1024 * 1024) + b"</urlset>")
    assert run(spider, response(SITE + "/sitemap.xml.gz", bomb, "application/x-gzip")) == []
    assert spider.crawler.stats.get_value("newscrawl/skipped/too_large_decompressed") == 1


BRIEF = """<html><head><title>Ferry service resumes after storm - Harbour News</title>
<meta property="og:type" content="article">
<meta property="article:published_time" content="2025-02-03T10:15:00+00:00"></head>
<body><header><nav><a href="/">Home</a> <a href="/business/">Business</a></nav></header>
<script>var ads = [];</script>
<div class="story"><h1>Ferry service resumes after storm</h1>
<div class="para">The island ferry resumed its normal timetable on Monday morning after three days of cancellations.</div>
<div class="para">Operators said the first crossing left on time and carried about forty passengers and six lorries.</div>
<div class="para">Harbour officials expect the backlog of freight to clear by Wednesday evening.</div>
</div></body></html>"""


def test_a_short_declared_brief_built_from_divs_is_an_article(spider):
    """A 3-paragraph, ~50-word report that declares itself an article, with a leading <script>:
    judged from what extraction finds, not from <p> counts or its first tag."""
    out = run(spider, response(SITE + "/news/0/item-81.html", BRIEF.encode(), "text/html", HtmlResponse))
    items = [o for o in out if isinstance(o, PageItem)]
    assert len(items) == 1 and "forty passengers" in items[0].article.text
