"""Meta-refresh redirects, without decoding every page in the crawl process."""
from __future__ import annotations

from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.http import HtmlResponse

# Scrapy looks for the tag in the first 4096 characters of the decoded page; in an
# ASCII-compatible encoding those are at most 4 bytes each.
_HEAD_BYTES = 4 * 4096


class HeadMetaRefreshMiddleware(MetaRefreshMiddleware):
    """Scrapy's MetaRefreshMiddleware, which decodes a page only when its head can hold the tag.

    Scrapy's reads ``response.text`` for every HTML page: the whole body decoded in the
    crawl process (which never reads the text otherwise: the extraction workers do), and
    kept with the response as long as it lives. A refresh tag says ``refresh`` in the head's
    bytes, whatever the case, in every ASCII-compatible encoding; a head with NUL bytes
    (UTF-16, UTF-32) is decoded as before."""

    def process_response(self, request, response):
        if isinstance(response, HtmlResponse):
            head = response.body[:_HEAD_BYTES]
            if b"\x00" not in head and b"refresh" not in head.lower():
                return response
        return super().process_response(request, response)
