"""What became of every request and page: the one vocabulary of skip, failure and drop reasons.

Scrapy declares the exceptions its retry middleware counts as failures in one
place (``RetryMiddleware.EXCEPTIONS_TO_RETRY``); newscrawl declares its reasons
here, and everything that counts or reports them reads them from here: the
spider and the pipelines that record them, the run's status and exit code 3
(``is_failure``), the completeness line and the summary.

A reason's value is its stats slug, stable across releases because users read
it in ``crawl_runs.skipped``/``errors`` and in the summary:

- ``newscrawl/skipped/<reason>``: a URL or page not taken further;
- ``newscrawl/outcome/<reason>``: what became of a page that reached the spider
  (exactly one per response: ``article``, a kind of page, or a skip reason);
- ``newscrawl/dropped/<reason>``: an article page that was not stored;
- ``newscrawl/errors/<reason>``: something broke on our side.

HTTP statuses are a family of their own (``http_404``): a server can answer any of
them, and the status itself is what a user wants to see.
"""
from __future__ import annotations

import enum

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from twisted.internet.error import (
    ConnectionLost,
    DNSLookupError,
    TCPTimedOutError,
)
from twisted.internet.error import (
    ConnectionRefusedError as TxConnectionRefusedError,
)
from twisted.internet.error import (
    TimeoutError as TxTimeoutError,
)
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

SKIPPED = "newscrawl/skipped/"
OUTCOME = "newscrawl/outcome/"
DROPPED = "newscrawl/dropped/"
ERRORS = "newscrawl/errors/"


class Reason(enum.StrEnum):
    """Why a URL, a page or an article went no further. ``failure``: something went wrong
    (the site or our side), as opposed to a page we chose not to store."""

    failure: bool

    def __new__(cls, slug: str, failure: bool = False):
        member = str.__new__(cls, slug)
        member._value_ = slug
        member.failure = failure
        return member

    # --- the fetch failed (after Scrapy's retries) -----------------------------
    DNS = "dns", True
    TIMEOUT = "timeout", True
    CONNECTION_REFUSED = "connection_refused", True
    CONNECTION_LOST = "connection_lost", True  # reset, or closed before the promised Content-Length
    FETCH_ERROR = "fetch_error", True  # any other download exception (its class is in the log)
    # --- not requested, or not read, by rule ------------------------------------
    ROBOTS_DISALLOWED = "robots_disallowed"
    PRIVATE_ADDRESS = "private_address"
    DEAD_END = "dead_end"  # answered 404/410 or kept failing in earlier runs (crawler.middlewares.deadends)
    BAD_SCHEME = "bad_scheme"  # file:, ftp:, data: ... from a feed, sitemap, link, canonical or redirect
    BAD_URL = "bad_url"
    URL_TOO_LONG = "url_too_long"
    TOO_LARGE = "too_large"  # over DOWNLOAD_MAXSIZE, announced or received
    TOO_LARGE_DECOMPRESSED = "too_large_decompressed"  # gzip/deflate bombs: small on the wire, huge inflated
    TOO_MANY_REDIRECTS = "too_many_redirects"
    REDIRECT_LOOP = "redirect_loop"
    OFFSITE = "offsite"
    BEFORE_SINCE = "before_since"
    KNOWN = "known"  # stored by an earlier run: not fetched again
    DUPLICATE_URL = "duplicate_url"
    OVER_LINKS_PER_PAGE = "over_links_per_page"
    OVER_ENTRIES_PER_LISTING = "over_entries_per_listing"
    OVER_LISTING_DEPTH = "over_listing_depth"  # a link past NEWSCRAWL_LISTING_DEPTH (crawler.middlewares.listing)
    # --- fetched, but not a page we can read ------------------------------------
    EMPTY_BODY = "empty_body"
    NOT_HTML = "not_html"
    BAD_GZIP = "bad_gzip"
    BAD_SITEMAP = "bad_sitemap"
    BAD_FEED = "bad_feed"
    READ_FAILED = "read_failed"  # the page broke the parser or the extractor
    # --- an article page, not stored ---------------------------------------------
    NO_TEXT = "no_text"  # nothing left once boilerplate is removed
    WORKER_CRASHED = "worker_crashed", True  # its extraction worker died on it twice
    STORAGE_ERROR = "storage_error", True  # the database refused it (counted under errors/storage too)
    # --- an ingest's records (newscrawl ingest) ----------------------------------
    NOT_ARCHIVED = "not_archived"  # a request an ingest would have to fetch: it fetches nothing
    WARC_BAD_URL = "warc_bad_url"
    WARC_TRUNCATED = "warc_truncated"
    WARC_UNREADABLE = "warc_unreadable"
    OTHER_SITE = "other_site"
    ROBOTS_TXT = "robots_txt"  # an archived robots.txt: read by the crawl that archived it
    # --- our side broke (newscrawl/errors/...) -----------------------------------
    STORAGE = "storage", True
    EXTRACTION = "extraction", True
    LOCK_LOST = "lock_lost", True
    DATABASE_LOST = "database_lost", True


def http_reason(status: int) -> str:
    """The reason of a response with an error status: ``http_<status>``."""
    return f"http_{status}"


def is_failure(reason: str) -> bool:
    """Whether a recorded reason means something went wrong: a 5xx answer, a failed fetch,
    a crashed worker, an article the database refused. Reasons from older releases or
    other components that are not declared here count as chosen skips."""
    if reason.startswith("http_") and reason[5:].isdigit():
        return int(reason[5:]) >= 500
    try:
        return Reason(reason).failure
    except ValueError:
        return False


# Download exceptions (after Scrapy's retries), most specific first. Scrapy 2.13+ wraps the
# Twisted errors in its own classes; both are listed for the download handlers that do not.
FETCH_EXCEPTIONS: tuple[tuple[tuple[type[BaseException], ...], Reason], ...] = (
    ((CannotResolveHostError, DNSLookupError), Reason.DNS),
    ((DownloadTimeoutError, TxTimeoutError, TCPTimedOutError), Reason.TIMEOUT),
    ((DownloadConnectionRefusedError, TxConnectionRefusedError), Reason.CONNECTION_REFUSED),
    ((DownloadFailedError, ResponseDataLossError, ResponseFailed, ResponseNeverReceived, ConnectionLost),
     Reason.CONNECTION_LOST),
    # Scrapy cancels a download once it is over DOWNLOAD_MAXSIZE (announced or received).
    ((DownloadCancelledError,), Reason.TOO_LARGE),
)

# Scrapy's own IgnoreRequest carries its reason only in its message.
_IGNORED_MESSAGES = (
    ("robots.txt", Reason.ROBOTS_DISALLOWED),
    ("max redirections", Reason.TOO_MANY_REDIRECTS),  # redirect loops end here
)


class NewscrawlIgnoreRequest(IgnoreRequest):
    """A request newscrawl's own middlewares refused; ``reason`` says why."""

    reason: Reason = Reason.FETCH_ERROR


class PrivateAddressError(NewscrawlIgnoreRequest):
    """The request's host is, or resolves to, a non-public address."""

    reason = Reason.PRIVATE_ADDRESS


class BadSchemeError(NewscrawlIgnoreRequest):
    """The request's URL is not http or https (file:, ftp:, data:, s3:, ...)."""

    reason = Reason.BAD_SCHEME


class DeadEndError(NewscrawlIgnoreRequest):
    """The URL is a remembered dead end (crawler.middlewares.deadends)."""

    reason = Reason.DEAD_END


class NotArchivedError(NewscrawlIgnoreRequest):
    """An ingest request that carries no archived response (an ingest fetches nothing)."""

    reason = Reason.NOT_ARCHIVED


def exception_reason(exc: BaseException) -> Reason:
    """The reason for a request that ended in ``exc`` (not an HTTP error status)."""
    if isinstance(exc, NewscrawlIgnoreRequest):
        return exc.reason
    for classes, reason in FETCH_EXCEPTIONS:
        if isinstance(exc, classes):
            return reason
    if isinstance(exc, IgnoreRequest):
        message = str(exc)
        if "DOWNLOAD_MAXSIZE" in message and "decompress" in message:
            return Reason.TOO_LARGE_DECOMPRESSED
        for words, reason in _IGNORED_MESSAGES:
            if words in message:
                return reason
    return Reason.FETCH_ERROR


def split_reasons(stats: dict) -> tuple[dict[str, int], dict[str, int]]:
    """(skips, failures) by reason, from a crawl's stats."""
    skips: dict[str, int] = {}
    failures: dict[str, int] = {}
    for key, value in stats.items():
        if key.startswith(SKIPPED):
            reason = key[len(SKIPPED):]
            (failures if is_failure(reason) else skips)[reason] = int(value)
        elif key.startswith(ERRORS):
            failures[key[len(ERRORS):]] = int(value)
    robots = int(stats.get("robotstxt/forbidden", 0))
    if robots and Reason.ROBOTS_DISALLOWED not in skips:
        skips[Reason.ROBOTS_DISALLOWED.value] = robots
    too_long = int(stats.get("urllength/request_ignored_count", 0))  # Scrapy's URLLENGTH_LIMIT drops
    if too_long:
        skips[Reason.URL_TOO_LONG.value] = skips.get(Reason.URL_TOO_LONG, 0) + too_long
    return skips, failures
