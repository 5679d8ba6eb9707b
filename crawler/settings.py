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
# Longer URLs are dropped (recorded as skipped/url_too_long): 2048 is the length of the
# canonical_url column, and no real article URL comes near it.
URLLENGTH_LIMIT = 2048
RETRY_TIMES = 2
# A fetch that still fails after its retries is one page's outcome, counted by reason in
# the run's report (crawl_runs.errors, the summary with example URLs); logged at ERROR,
# Scrapy's default, every dead link would reach `--quiet` cron mail, and at WARNING it
# floods a terminal. -vv or --set LOG_LEVEL=DEBUG shows each one.
RETRY_GIVE_UP_LOG_LEVEL = "DEBUG"
# Likewise a page dropped by the pipelines (no article text, only boilerplate): counted by
# reason in the summary, one DEBUG line each.
DEFAULT_DROPITEM_LOG_LEVEL = "DEBUG"
# Safety net only; NEWSCRAWL_LISTING_DEPTH bounds how far listings are followed.
# robots -> sitemap index -> sitemap -> article is depth 3.
DEPTH_LIMIT = 6
DEPTH_PRIORITY = 1  # breadth-first-ish: listing pages before deep links
# Items of one response processed at once. The news spiders yield at most one item per
# response (its article), so Scrapy's default of 100 only cost 100 asyncio tasks made and
# run per response: about a fifth of the reactor thread's CPU.
CONCURRENT_ITEMS = 1

DOWNLOADER_MIDDLEWARES = {
    # Before everything else, so that robots.txt fetches and redirects are checked too.
    "crawler.middlewares.guards.SchemeGuardMiddleware": 40,
    "crawler.middlewares.guards.PrivateAddressGuardMiddleware": 50,
    # Below RetryMiddleware (550): sees each fetch's final outcome, after its retries.
    "crawler.middlewares.deadends.DeadEndMiddleware": 60,
    # Feeds and sitemaps read in full before: "changed since?" (a 304 is one small response).
    "crawler.middlewares.conditional.ConditionalGetMiddleware": 70,
    # Between HTTP decompression (590) and meta refresh (580), which reads response.text.
    "crawler.middlewares.guards.CharsetGuardMiddleware": 585,
    # Scrapy's meta refresh, in its place, decoding only pages whose head can hold the tag.
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.middlewares.metarefresh.HeadMetaRefreshMiddleware": 580,
    # Last before the download handler: writes responses as received (NEWSCRAWL_WARC_DIR).
    "crawler.middlewares.archive.WarcWriterMiddleware": 950,
}
SPIDER_MIDDLEWARES = {
    # How far links on listing pages are followed (NEWSCRAWL_LISTING_DEPTH); the news
    # spider adds it if a project's settings leave it out.
    "crawler.middlewares.listing.ListingDepthMiddleware": 700,
    # Articles record their WARC file and offset; an ingest follows no links (crawler/middlewares/archive.py).
    "crawler.middlewares.archive.ArchiveSpiderMiddleware": 800,
}
# Only http and https are ever fetched: no local files, FTP, S3 or data: URLs, whatever
# a feed, sitemap, link or redirect says (SchemeGuardMiddleware records each refusal).
DOWNLOAD_HANDLERS = {"file": None, "ftp": None, "s3": None, "data": None}
ADDONS = {
    "crawler.distributed.DistributedAddon": 0,
}
EXTENSIONS = {
    "crawler.extensions.CrawlRunRecorder": 100,
    "crawler.extensions.Progress": 200,
    "crawler.extensions.FrozenStartup": 300,
}
ITEM_PIPELINES = {
    "crawler.pipelines.ExtractionPipeline": 300,
    "crawler.pipelines.StoragePipeline": 500,
}

# newscrawl's own settings.
DATABASE_URL = None  # None: $NEWSCRAWL_DB, else sqlite:///newscrawl.db
NEWSCRAWL_ALLOW_PRIVATE = False  # True lifts the loopback/private-address guard (local testing)
NEWSCRAWL_ALLOWED_PRIVATE_HOSTS = []  # host:port entries allowed through the guard (an intranet news site)
NEWSCRAWL_LISTING_DEPTH = 2  # link hops followed from home/section pages: home -> section -> article
NEWSCRAWL_EXTRACT_PROCESSES = -1  # extraction worker processes: -1 one per core, 0 in-process (debugging)
NEWSCRAWL_PRECISION_AGREEMENT = True  # second trafilatura pass to trim edge teasers (see crawler/page/body.py)
NEWSCRAWL_MIN_TEXT_CHARS = 200
# Bounded work and storage per page (README "Security"). Each cap, when hit, is counted
# as newscrawl/limits/<name> and shown in the run's summary; 0 lifts a cap.
NEWSCRAWL_MAX_LINKS_PER_PAGE = 5000  # links followed from one listing page
NEWSCRAWL_MAX_LISTING_ENTRIES = 50000  # entries read from one feed or sitemap (the sitemap protocol's own maximum)
# Characters stored per field (see crawler/page/sanitize.py): longer values are truncated.
NEWSCRAWL_MAX_TITLE_CHARS = 1000
NEWSCRAWL_MAX_AUTHOR_CHARS = 255  # each author name, and each tag
NEWSCRAWL_MAX_LIST_ITEMS = 100  # author names, and tags, per article
NEWSCRAWL_MAX_SITE_NAME_CHARS = 255  # never above the column's 255
NEWSCRAWL_MAX_SECTION_CHARS = 255  # never above the column's 255
NEWSCRAWL_MAX_URL_CHARS = 2048  # article URLs over it are skipped (url_too_long), image URLs dropped
NEWSCRAWL_BOILERPLATE_MIN_PAGES = 3  # site-level learning: see crawler/store/learning.py
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
# Dead ends (crawler/middlewares/deadends.py): a URL that answered 404/410, or failed this many runs in a
# row, is not requested again for this many days (0 turns it off; --refresh overrides).
NEWSCRAWL_DEAD_END_DAYS = 7.0
NEWSCRAWL_DEAD_END_FAILURES = 3
# A lost database connection is retried with backoff for this long, then the run fails.
NEWSCRAWL_DB_RETRY_SECONDS = 60.0
# Articles are stored in batches, one transaction each (crawler/pipelines.py StoragePipeline):
# at most this many articles, waiting at most this many seconds after the first for more.
NEWSCRAWL_STORE_BATCH_SIZE = 32
NEWSCRAWL_STORE_BATCH_SECONDS = 0.2

# Web archives (crawler/middlewares/archive.py). NEWSCRAWL_WARC_DIR (crawl --warc DIR): write every
# response with its request to rotating .warc.gz files of NEWSCRAWL_WARC_MAX_SIZE bytes.
NEWSCRAWL_WARC_DIR = None
NEWSCRAWL_WARC_MAX_SIZE = 1024 ** 3
NEWSCRAWL_WARC_SITES = []  # ingest --site: only records of these sites
NEWSCRAWL_WARC_INGEST = False  # set by the ingest spider: responses come from the archive

# No process-control servers: the telnet console, and Scrapy 2.19's remote-control extension
# (on by default there: a localhost HTTP server that runs Python sent to it, its token written
# to a job file in the user's profile folder). A cron crawl has no use for either.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"
