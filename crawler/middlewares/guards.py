"""Request guards: only http(s), only public addresses (unless allowed), and a charset
Scrapy and browsers agree on."""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket

from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.http import TextResponse
from scrapy.utils.httpobj import urlparse_cached

from crawler.outcomes import BadSchemeError, PrivateAddressError
from crawler.page.encoding import decode_html, whatwg_codec

logger = logging.getLogger(__name__)


# The only schemes the crawler fetches. Scrapy's handlers for the others are also
# switched off in crawler/settings.py (DOWNLOAD_HANDLERS); this check refuses them
# with a reason of their own, whoever built the request.
ALLOWED_SCHEMES = frozenset({"http", "https"})


class SchemeGuardMiddleware:
    """Refuse every request that is not http(s): start URLs, feed and sitemap
    entries, links, canonicals and redirects all pass through here (a redirect
    is a new request). A ``file://`` link would otherwise read a local file.
    Always on: ``NEWSCRAWL_ALLOW_PRIVATE`` does not lift it."""

    def process_request(self, request: Request):
        scheme = urlparse_cached(request).scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            raise BadSchemeError(f"scheme {scheme!r} is not fetched (only http and https)")
        return None


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_loopback)


class PrivateAddressGuardMiddleware:
    """Refuse requests to loopback, private, link-local and reserved addresses.

    The host is resolved first, so a public name pointing at 10.0.0.1 is
    refused too. Redirects are new requests and pass through here again, so a
    page cannot steer the crawler into an internal network with a 302.
    Disabled by ``NEWSCRAWL_ALLOW_PRIVATE`` (for crawling local test sites).
    ``NEWSCRAWL_ALLOWED_PRIVATE_HOSTS`` lets an operator allow chosen internal
    sites (``host:port`` entries, e.g. an intranet news site) while the guard
    stays on for everything else, redirects from those sites included.

    Scrapy resolves the name again when it connects; its resolver caches the
    answer we just checked, which narrows (but cannot close) a DNS-rebinding
    window. Deployments that must close it should also egress-filter.
    """

    def __init__(self, allowed_hosts: set[str] | None = None) -> None:
        self._verdicts: dict[str, str | None] = {}  # host -> refusal reason, None if public
        self.allowed_hosts: set[str] = set()
        for entry in allowed_hosts or ():
            host, sep, port = entry.strip().lower().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"NEWSCRAWL_ALLOWED_PRIVATE_HOSTS entries are host:port, got {entry!r}")
            self.allowed_hosts.add(f"{host.strip('[]')}:{int(port)}")

    @classmethod
    def from_crawler(cls, crawler):
        if crawler.settings.getbool("NEWSCRAWL_ALLOW_PRIVATE"):
            raise NotConfigured  # NEWSCRAWL_ALLOW_PRIVATE: crawling local sites on purpose
        return cls(set(crawler.settings.getlist("NEWSCRAWL_ALLOWED_PRIVATE_HOSTS")))

    async def process_request(self, request: Request):
        parsed = urlparse_cached(request)
        host = parsed.hostname
        if not host:
            return None
        if self.allowed_hosts:
            port = parsed.port or {"http": 80, "https": 443}.get(parsed.scheme)
            # Exactly this host and port: another port on the same address is another service.
            if f"{host}:{port}".lower() in self.allowed_hosts:
                return None
        if host not in self._verdicts:
            self._verdicts[host] = await self._check(host)
        reason = self._verdicts[host]
        if reason is not None:
            raise PrivateAddressError(reason)
        return None

    @staticmethod
    async def _check(host: str) -> str | None:
        try:
            ipaddress.ip_address(host.strip("[]"))
            addresses = [host.strip("[]")]
        except ValueError:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
            except OSError:
                return None  # unresolvable: the download fails with Scrapy's own DNS error
            addresses = sorted({info[4][0] for info in infos})
        for address in addresses:
            if not is_public_address(address):
                return f"{host} resolves to non-public address {address}"
        return None


def _declared_encoding(response: TextResponse) -> str | None:
    """The encoding the response declares (given, byte-order mark, Content-Type, <meta>),
    as ``response.encoding`` reads it, without inferring one from the bytes when none is."""
    declared = getattr(response, "_declared_encoding", None)  # Scrapy's own, private
    return declared() if callable(declared) else response.encoding


class CharsetGuardMiddleware:
    """Give a page that declares a non-text codec a charset it can be read in.

    Python's codec registry resolves ``charset=zlib`` (or base64, rot13, idna,
    punycode, undefined), and ``response.text`` then raises: in Scrapy's own
    meta-refresh middleware, before the page reaches the spider. A browser
    ignores a label the WHATWG Encoding Standard does not list and detects the
    charset; so do we (crawler.page.encoding.decode_html). Placed after HTTP
    decompression (590) and before meta refresh (580), so both see the fix;
    ordinary pages only pay one label lookup."""

    def __init__(self, stats=None) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)

    def process_response(self, request: Request, response):
        if not isinstance(response, TextResponse):
            return response
        declared = _declared_encoding(response)
        # Only a declared label can name a non-text codec: one Scrapy infers from the bytes
        # is one they decode with. Asking ``response.encoding`` of a page that declares none
        # would decode the whole page here, in the crawl process, for nothing (the
        # extraction workers decode it).
        if declared is None or whatwg_codec(declared) is not None:
            return response
        content_type = response.headers.get("Content-Type", b"").decode("latin-1")
        _, encoding = decode_html(response.body, content_type)
        if self.stats is not None:
            self.stats.inc_value("newscrawl/pages/charset_not_a_text_encoding")
        logger.debug("%s declares charset %s, not one a browser knows; decoding as %s",
                     response.url, response.encoding, encoding)
        return response.replace(encoding=encoding)
