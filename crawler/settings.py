"""Scrapy settings for newscrawl.

Every value here can be overridden per run: ``scrapy crawl news -s NAME=VALUE``
or ``newscrawl crawl --set NAME=VALUE``.
"""
from crawler import __version__

BOT_NAME = "newscrawl"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# Identify the crawler and how to reach its operators.
USER_AGENT = f"newscrawl/{__version__} (+https://github.com/newscrawl/newscrawl)"
ROBOTSTXT_OBEY = True

# Politeness: at most 2 requests in flight per site, AutoThrottle adapting the
# delay to the server's latency.
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.25
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.5

# Bounded work per page.
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024  # also caps decompressed size (gzip bombs)
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
REDIRECT_MAX_TIMES = 8
RETRY_TIMES = 2
# A fetch that still fails after its retries is one page's outcome, counted by reason in
# the run's report (crawl_runs.errors, the summary line); logged at ERROR, Scrapy's
# default, every dead link would reach `--quiet` cron mail.
RETRY_GIVE_UP_LOG_LEVEL = "WARNING"
# Safety net only; NEWSCRAWL_LISTING_DEPTH bounds how far listings are followed.
# robots -> sitemap index -> sitemap -> article is depth 3.
DEPTH_LIMIT = 6
DEPTH_PRIORITY = 1  # breadth-first-ish: listing pages before deep links

DOWNLOADER_MIDDLEWARES = {
    # Before everything else, so that robots.txt fetches and redirects are checked too.
    "crawler.middlewares.PrivateAddressGuardMiddleware": 50,
    # Last before the download handler: writes responses as received (NEWSCRAWL_WARC_DIR).
    "crawler.warc.WarcWriterMiddleware": 950,
}
SPIDER_MIDDLEWARES = {
    # Articles record their WARC file and offset; an ingest follows no links (crawler/warc.py).
    "crawler.warc.ArchiveSpiderMiddleware": 800,
}
ADDONS = {
    "crawler.distributed.DistributedAddon": 0,
}
EXTENSIONS = {
    "crawler.extensions.CrawlRunRecorder": 100,
    "crawler.extensions.Progress": 200,
}
ITEM_PIPELINES = {
    "crawler.pipelines.ExtractionPipeline": 300,
    "crawler.pipelines.StoragePipeline": 500,
}

# newscrawl's own settings.
DATABASE_URL = None  # None: $NEWSCRAWL_DB, else sqlite:///newscrawl.db
NEWSCRAWL_ALLOW_PRIVATE = False  # True lifts the loopback/private-address guard (local testing)
NEWSCRAWL_LISTING_DEPTH = 2  # link hops followed from home/section pages: home -> section -> article
NEWSCRAWL_EXTRACT_PROCESSES = -1  # extraction worker processes: -1 one per core, 0 in-process (debugging)
NEWSCRAWL_PRECISION_AGREEMENT = True  # second trafilatura pass to trim edge teasers (see crawler/body.py)
NEWSCRAWL_MIN_TEXT_CHARS = 200
NEWSCRAWL_BOILERPLATE_MIN_PAGES = 3  # site-level learning: see crawler/learning.py
NEWSCRAWL_BOILERPLATE_MIN_SHARE = 0.1
NEWSCRAWL_DEDUPE_THRESHOLD = 0.7  # near-duplicate Jaccard (see dedupe/settings.py)
NEWSCRAWL_SHINGLE_SIZE = 5
NEWSCRAWL_NUM_PERM = 128

# Distributed mode (see README "Scaling out"): a Redis URL turns on scrapy-redis for the
# shared frontier and the Redis LSH index. Workers of one crawl share NEWSCRAWL_REDIS_RUN.
NEWSCRAWL_REDIS_URL = None
NEWSCRAWL_REDIS_RUN = "default"
NEWSCRAWL_REDIS_INDEX = None  # None: "newscrawl:lsh:<hash of the database URL>"
NEWSCRAWL_REFRESH = False  # True: fetch stored article URLs again (newscrawl crawl --refresh)
NEWSCRAWL_SINCE = None  # ISO date: skip feed/sitemap entries published before it (--since)
NEWSCRAWL_RECORD_RUNS = True  # one crawl_runs row per run
NEWSCRAWL_MAX_FAILURE_SHARE = 0.5  # above this share of failed fetches the run is "partial" (exit 3)
NEWSCRAWL_PROGRESS = True  # a progress line on stderr when it is a terminal (the CLI turns it off with --quiet)
NEWSCRAWL_PROGRESS_INTERVAL = 5.0

# Web archives (crawler/warc.py). NEWSCRAWL_WARC_DIR (crawl --warc DIR): write every
# response with its request to rotating .warc.gz files of NEWSCRAWL_WARC_MAX_SIZE bytes.
NEWSCRAWL_WARC_DIR = None
NEWSCRAWL_WARC_MAX_SIZE = 1024 ** 3
NEWSCRAWL_WARC_SITES = []  # ingest --site: only records of these sites
NEWSCRAWL_WARC_INGEST = False  # set by the ingest spider: responses come from the archive

TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"
