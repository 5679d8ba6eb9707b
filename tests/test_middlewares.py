import asyncio

import pytest
from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.middlewares.guards import PrivateAddressGuardMiddleware, is_public_address
from crawler.outcomes import PrivateAddressError


@pytest.mark.parametrize(
    "address, public",
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata endpoint
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("240.0.0.1", False),  # reserved
        ("224.0.0.1", False),  # multicast
    ],
)
def test_is_public_address(address, public):
    assert is_public_address(address) is public


def _guard():
    return PrivateAddressGuardMiddleware.from_crawler(get_crawler(settings_dict={}))


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/", "http://[::1]/", "http://localhost/x", "http://10.0.0.8/admin"])
def test_guard_refuses_private_hosts_after_resolution(url):
    with pytest.raises(PrivateAddressError, match="non-public address"):
        asyncio.run(_guard().process_request(Request(url)))


def test_guard_disabled_by_allow_private():
    with pytest.raises(NotConfigured):
        PrivateAddressGuardMiddleware.from_crawler(get_crawler(settings_dict={"NEWSCRAWL_ALLOW_PRIVATE": True}))


def test_charset_guard_gives_non_text_codecs_a_readable_encoding():
    from scrapy.http import HtmlResponse

    from crawler.middlewares.guards import CharsetGuardMiddleware

    guard = CharsetGuardMiddleware()
    body = "<html><head><meta charset='{}'></head><body><p>Économie et société</p></body></html>"
    for charset in ("zlib", "base64", "rot13", "idna", "punycode", "undefined"):
        response = HtmlResponse("http://example.com/", body=body.format(charset).encode("utf-8"))
        fixed = guard.process_response(None, response)
        assert "Économie et société" in fixed.text, charset  # response.text raised before
    ordinary = HtmlResponse("http://example.com/", body=body.format("utf-8").encode("utf-8"))
    assert guard.process_response(None, ordinary) is ordinary
    for declared in ("", "; charset=zlib"):  # in the Content-Type too
        header = HtmlResponse("http://example.com/", body="<p>Économie</p>".encode("utf-8"),
                              headers={"Content-Type": "text/html" + declared})
        assert "Économie" in guard.process_response(None, header).text, declared


def test_charset_guard_does_not_decode_a_page_that_declares_no_charset():
    from scrapy.http import HtmlResponse

    from crawler.middlewares.guards import CharsetGuardMiddleware

    # Not UTF-8, no charset anywhere: Scrapy would infer one by decoding the whole page, which
    # the extraction workers do anyway; the guard only reads what the page declares.
    page = "<html><head><title>Économie</title></head><body>" + "<p>Société générale.</p>" * 500 + "</body></html>"
    response = HtmlResponse("http://example.com/", body=page.encode("cp1252"), headers={"Content-Type": "text/html"})
    assert CharsetGuardMiddleware().process_response(None, response) is response
    assert response._cached_ubody is None


def test_scheme_guard_refuses_everything_but_http():
    import pytest
    from scrapy import Request

    from crawler.middlewares.guards import SchemeGuardMiddleware
    from crawler.outcomes import BadSchemeError

    guard = SchemeGuardMiddleware()
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/x", "data:text/html,hi", "s3://bucket/key"):
        with pytest.raises(BadSchemeError):
            guard.process_request(Request(url))
    assert guard.process_request(Request("https://example.com/")) is None


def _meta_refresh():
    from crawler.middlewares.metarefresh import HeadMetaRefreshMiddleware

    return HeadMetaRefreshMiddleware.from_crawler(get_crawler(settings_dict={}))


@pytest.mark.parametrize("encoding, content_type", [
    ("utf-8", "text/html; charset=utf-8"),
    ("utf-16", "text/html; charset=utf-16"),  # NUL bytes between the letters: decoded as Scrapy does
    ("utf-8", "text/html"),
])
def test_meta_refresh_is_followed_in_any_encoding(encoding, content_type):
    from scrapy.http import HtmlResponse

    page = ('<html><head><META HTTP-EQUIV="Refresh" content="0; url=/moved/here"></head>'
            '<body>' + "<p>Der Inhalt ist umgezogen.</p>" * 50 + '</body></html>')
    request = Request("http://news.example/old")
    response = HtmlResponse(request.url, body=page.encode(encoding), headers={"Content-Type": content_type},
                            request=request)
    result = _meta_refresh().process_response(request, response)
    assert isinstance(result, Request) and result.url == "http://news.example/moved/here"


def test_meta_refresh_leaves_a_page_without_one_undecoded():
    from scrapy.http import HtmlResponse

    page = "<html><head><title>Ein Bericht</title></head><body>" + "<p>Größere Änderungen.</p>" * 2000 + "</body></html>"
    request = Request("http://news.example/story")
    response = HtmlResponse(request.url, body=page.encode("utf-8"), headers={"Content-Type": "text/html"},
                            request=request)
    assert _meta_refresh().process_response(request, response) is response
    assert response._cached_ubody is None  # the crawl process never decoded the page
