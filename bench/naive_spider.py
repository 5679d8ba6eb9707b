"""The crawler a user would write in 30 lines: Scrapy + trafilatura + SQLite.

The baseline of bench/crawl_throughput.py: it reads the sites' sitemaps, extracts
every page with ``trafilatura.extract`` in the callback (on the reactor thread, one
core) and commits one row per article. No dedupe, no learning, no resumption.

    scrapy runspider bench/naive_spider.py -a sitemaps=URL,URL -a db=naive.db
"""
import sqlite3

import trafilatura
from scrapy.spiders import SitemapSpider


class NaiveSpider(SitemapSpider):
    name = "naive"

    def __init__(self, sitemaps: str = "", db: str = "naive.db", **kwargs) -> None:
        super().__init__(**kwargs)
        self.sitemap_urls = sitemaps.split(",")
        self.db = sqlite3.connect(db)
        self.db.execute("CREATE TABLE IF NOT EXISTS articles (url TEXT PRIMARY KEY, title TEXT, text TEXT)")

    def parse(self, response):
        text = trafilatura.extract(response.text, url=response.url)
        if text:
            title = response.css("title::text").get()
            self.db.execute("INSERT OR REPLACE INTO articles VALUES (?, ?, ?)", (response.url, title, text))
            self.db.commit()
            yield {"url": response.url}

    def closed(self, reason) -> None:
        self.db.close()
