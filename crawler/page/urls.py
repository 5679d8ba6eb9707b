"""URL identity: one canonical form per article.

courlan does the normalisation (scheme/host case, default ports, path
segments, tracker parameters); we add what it leaves: dropping fragments,
mapping AMP URLs to their originals, and the site key.
"""
from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import courlan

# Query parameters that select the AMP rendering of a page.
_AMP_PARAMS = {"amp", "outputtype", "output"}
_AMP_VALUES = {"", "1", "true", "amp"}
# Path forms of AMP copies: /story/amp/, /amp/story/, /story.amp, /story.amp.html
_AMP_TRAILING = re.compile(r"/amp/?$")
_AMP_LEADING = re.compile(r"^/amp/")
_AMP_SUFFIX = re.compile(r"\.amp(\.html?)?$")


@lru_cache(maxsize=4096)
def canonicalize(url: str) -> str:
    """Normalise ``url`` for identity: courlan cleaning, trackers and fragment removed.

    Cached: the crawl asks it for one URL several times (as a sitemap or listing entry,
    then for the fetched page, its identity and its declared canonical), and courlan's
    normalisation was most of the spider's own CPU per article page."""
    try:
        normalised = courlan.normalize_url(url.strip(), strict=False)
    except ValueError:
        normalised = url.strip()
    parts = urlsplit(normalised)
    path = parts.path or "/"
    if "/." in path:  # resolve dot segments, which courlan leaves in place
        path = urlsplit(urljoin("http://host/", path)).path
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def is_amp_url(url: str) -> bool:
    parts = urlsplit(url)
    if _AMP_TRAILING.search(parts.path) or _AMP_LEADING.match(parts.path) or _AMP_SUFFIX.search(parts.path):
        return True
    return any(k.lower() in _AMP_PARAMS and v.lower() in _AMP_VALUES for k, v in parse_qsl(parts.query, True))


def amp_to_original(url: str) -> str:
    """The non-AMP URL for an AMP URL by the common URL conventions.

    Only used for links; a fetched AMP page's rel=canonical is authoritative.
    """
    parts = urlsplit(url)
    path = parts.path
    if _AMP_TRAILING.search(path):
        path = _AMP_TRAILING.sub("/", path)
    elif _AMP_LEADING.match(path):
        path = _AMP_LEADING.sub("/", path)
    elif _AMP_SUFFIX.search(path):
        path = _AMP_SUFFIX.sub(lambda m: m.group(1) or "", path)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, True)
        if not (k.lower() in _AMP_PARAMS and v.lower() in _AMP_VALUES)
    ]
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))


def site_of(url: str) -> str:
    """The site an URL belongs to: its registered domain (``bbc.co.uk`` for
    ``news.bbc.co.uk``), or ``host:port`` for IP addresses and single-label hosts,
    where the port is what tells two local sites apart."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"URL has no host: {url!r}")
    return _site_of_origin(parts.scheme, parts.netloc)


@lru_cache(maxsize=4096)
def _site_of_origin(scheme: str, netloc: str) -> str:
    """site_of for a scheme and a netloc. Cached: a crawl asks it for every link and page of
    the same few hosts, and the public-suffix lookup is most of the cost of a listing's link."""
    parts = urlsplit(f"{scheme}://{netloc}/")
    host = (parts.hostname or "").lower()
    if _is_ip(host) or "." not in host:
        default = {"http": 80, "https": 443}.get(parts.scheme)
        port = parts.port
        return host if port in (None, default) else f"{host}:{port}"
    domain = courlan.extract_domain(f"{scheme}://{netloc}/")
    return domain or host.removeprefix("www.")


def check_url(url: str) -> str:
    """``url`` if it parses, with a port that is a number in range; ValueError if not
    (a bad IPv6 literal or port in one feed entry must be that entry's skip)."""
    parts = urlsplit(url)
    parts.port  # noqa: B018 - raises ValueError for a port that is no number, or out of range
    return url


def same_site(url: str, site: str) -> bool:
    try:
        return site_of(url) == site
    except ValueError:
        return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def article_identity(url: str, declared: str | None, site: str, came_as_canonical: bool) -> tuple[str, bool]:
    """The URL an article is stored under, and whether the page declared an unusable canonical.

    The page's declared canonical wins when it is on the same site (a cross-site canonical is
    a syndication hint, not our identity); an AMP page without one stands for its original;
    a page we reached as someone's canonical is taken as it is (no second hop, no cycles).
    When the identity is not ``canonicalize(url)``, the crawl fetches it and lets that page
    speak for itself."""
    here = canonicalize(url)
    unusable = False
    canonical = here
    if declared:
        try:
            canonical = canonicalize(urljoin(url, declared))
        except ValueError:  # a bad port or IPv6 literal in the declaration
            unusable = True
    if not same_site(canonical, site):
        canonical = here
    if canonical == here and is_amp_url(here):
        canonical = amp_to_original(here)
    if came_as_canonical:
        canonical = here
    return canonical, unusable
