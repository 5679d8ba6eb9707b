"""Bad input: the real `newscrawl crawl` against throwaway local sites that misbehave.

Every test serves a small site (two or three good articles plus the bad
pages, all linked from its home page) and checks that the bad page is skipped
with a recorded reason (crawl_runs.skips / errors, and the printed summary),
that the good articles are still stored, and that nothing is half-written.
"""
from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import zlib

import pytest

from crawler.page.discovery import feed_entries, sitemap_entries
from crawler.ops.sampleserver import reset_connection, send_raw, serve_sample_sites
from tests.badsite import (
    CRAWL_FLAGS,
    SiteBuilder,
    article_html,
    consistency_problems,
    crawl,
    last_run,
    paragraphs,
    stored_articles,
)
from tests.conftest import REPO

pytestmark = pytest.mark.integration

SLUG = "bad"
GOOD = {
    "/news/2025/03/01/harbour-reopens-after-storm-repairs/": ("Harbour reopens after storm repairs", 1),
    "/news/2025/03/02/council-approves-new-railway-budget/": ("Council approves new railway budget", 2),
}


@pytest.fixture
def site(tmp_path) -> SiteBuilder:
    builder = SiteBuilder(tmp_path / "sites", SLUG)
    for path, (title, seed) in GOOD.items():
        builder.article(path, title, seed)
    return builder


@contextlib.contextmanager
def serving(builder: SiteBuilder):
    builder.write()
    with serve_sample_sites(root=builder.root) as sites:
        yield sites


def crawl_ok(sites, db_url: str, *settings: str, expect_code: int = 0):
    """Crawl the site's home page; check that it went on past the bad pages."""
    result = crawl(db_url, sites[SLUG].url("/"), settings=settings)
    output = result.stdout + result.stderr
    assert result.returncode == expect_code, output
    assert "Traceback" not in output and "Spider error" not in output, output
    stored = stored_articles(db_url)
    for path, (title, _) in GOOD.items():
        assert sites[SLUG].url(path) in stored, f"good article {path} not stored\n{output}"
        assert stored[sites[SLUG].url(path)].title == title
    assert consistency_problems(db_url) == []
    run = last_run(db_url)
    assert run.status in ("finished", "partial") and run.finished_at is not None
    return result, run, stored


def fetched(sites, path: str) -> int:
    return sum(1 for slug, p in sites.request_log if slug == SLUG and p == path)


# 1 -------------------------------------------------------------------------

def test_malformed_html_is_extracted_or_skipped_never_a_crash(site, sqlite_url):
    body = paragraphs(11)
    broken = article_html("Broken markup still carries the story", body).replace("</p>", "")
    broken = broken.replace("</article>", "<div><b><i>").replace("</body></html>", "")
    broken_bytes = broken.encode("utf-8").replace(b"<footer>", b"\x00\xff\xfe\x80\x81<footer><<<>")
    site.page("/news/2025/03/03/broken-markup-still-carries-story/", broken_bytes)
    garbage = bytes(range(256)) * 20 + b"<html><head><title>\x00\xff"  # bytes, unclosed, no text
    site.page("/news/2025/03/04/garbage-bytes-instead-of-a-page/", garbage)
    site.link("/news/2025/03/03/broken-markup-still-carries-story/", "/news/2025/03/04/garbage-bytes-instead-of-a-page/")
    with serving(site) as sites:
        result, run, stored = crawl_ok(sites, sqlite_url)
        broken_url = sites[SLUG].url("/news/2025/03/03/broken-markup-still-carries-story/")
        assert broken_url in stored, "a malformed page with text is still an article"
        assert body[0][:80] in stored[broken_url].text
        assert "\x00" not in stored[broken_url].text
        assert sites[SLUG].url("/news/2025/03/04/garbage-bytes-instead-of-a-page/") not in stored
        assert fetched(sites, "/news/2025/03/04/garbage-bytes-instead-of-a-page/") == 1
    # The garbage page is accounted for: skipped, or looked at and found not to be an article.
    assert "too_little_text=1" in result.stdout or run.skips.get("not_html") == 1, result.stdout
    assert run.errors == {}


# 2 -------------------------------------------------------------------------

RUSSIAN = ("Правительство объявило о новых мерах поддержки экономики региона. "
           "Министр финансов заявил, что бюджет будет исполнен в полном объёме, несмотря на трудности. ")
RUSSIAN_2 = ("Жители города вышли на улицы, чтобы отметить открытие нового моста через реку. "
             "Строительство продолжалось почти шесть лет и обошлось казне дороже, чем планировалось. ")
FRENCH = ("Le gouvernement français a annoncé de nouvelles mesures économiques pour les régions. "
          "Le ministre a déclaré que les dépenses publiques seraient réduites dès l'année prochaine. ")

# (path, text, title, lang, charset of the bytes, Content-Type header, <meta> charset or "")
CHARSET_CASES = [
    ("/news/2025/04/01/cp1251-labelled-latin1/", RUSSIAN, "Бюджет будет исполнен полностью", "ru",
     "windows-1251", "text/html; charset=iso-8859-1", ""),
    ("/news/2025/04/02/koi8r-labelled-utf8-in-meta/", RUSSIAN_2, "Открытие нового моста через реку", "ru",
     "koi8-r", "text/html", "utf-8"),
    ("/news/2025/04/03/cp1251-declared-nowhere/", RUSSIAN_2 + RUSSIAN, "Жители отметили открытие моста", "ru",
     "windows-1251", "text/html", ""),
    ("/news/2025/04/04/latin1-labelled-utf8/", FRENCH, "Des mesures économiques annoncées", "fr",
     "latin-1", "text/html; charset=utf-8", ""),
    ("/news/2025/04/05/latin1-declared-nowhere/", FRENCH, "Les dépenses publiques réduites", "fr",
     "latin-1", "text/html", ""),
]


def test_wrong_or_missing_charset_declarations_decode_right(site, sqlite_url):
    pages = {}
    for path, text, title, lang, charset, content_type, meta in CHARSET_CASES:
        head = f'<meta charset="{meta}">' if meta else ""
        sentences = [text * 3, text.upper() * 2]
        html = article_html(title, sentences, head_extra=head, lang=lang)
        pages[path] = (html.encode(charset), content_type)
        site.link(path)
    with serving(site) as sites:
        for path, (body, content_type) in pages.items():
            sites.routes[(SLUG, path)] = lambda request, b=body, ct=content_type: (200, {"Content-Type": ct}, b)
        result, run, stored = crawl_ok(sites, sqlite_url)
        for path, text, title, *_ in CHARSET_CASES:
            row = stored.get(sites[SLUG].url(path))
            assert row is not None, f"{path} not stored\n{result.stdout}"
            first_sentence = text.split(". ")[0]
            assert first_sentence in row.text, f"{path}: {row.text[:120]!r}"
            assert row.title == title
            # The raw HTML kept for reprocessing reads right in the encoding stored with it.
            assert first_sentence in zlib.decompress(row.raw_html).decode(row.raw_encoding)


# 3 -------------------------------------------------------------------------

def test_responses_over_the_size_limit_are_skipped(site, sqlite_url):
    big = article_html("A page far too large to fetch", paragraphs(21) * 2000)
    assert len(big) > 500_000
    site.page("/news/2025/03/05/announced-size-too-large/", big)  # Content-Length says so up front
    site.link("/news/2025/03/05/announced-size-too-large/", "/news/2025/03/06/streamed-without-length/")
    with serving(site) as sites:
        def streamed(request):  # no Content-Length: only the bytes received tell
            send_raw(request, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
                     + big.encode())
        sites.routes[(SLUG, "/news/2025/03/06/streamed-without-length/")] = streamed
        result, run, stored = crawl_ok(sites, sqlite_url, "DOWNLOAD_MAXSIZE=200000")
    assert run.skips.get("too_large") == 2, run.skips
    assert "too_large=2" in result.stdout
    assert len(stored) == len(GOOD)


# 4 -------------------------------------------------------------------------

def _bomb(size: int, wbits: int) -> bytes:
    """``size`` bytes of HTML-looking filler compressed to a few hundred KB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    chunk = b" " * (1 << 20)
    parts = [packer.compress(b"<html><body><p>")]
    for _ in range(size >> 20):
        parts.append(packer.compress(chunk))
    parts.append(packer.flush())
    return b"".join(parts)


def crawl_measuring_memory(db_url: str, *args: str) -> tuple[subprocess.CompletedProcess, int]:
    """Run the crawl in a wrapper process that reports its child's peak RSS (KiB)."""
    from pathlib import Path

    script = Path(sys.executable).parent / "newscrawl"
    wrapper = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
               "print('MAXRSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
               "sys.exit(r.returncode)")
    result = subprocess.run([sys.executable, "-c", wrapper, str(script), "crawl", "--db", db_url, *CRAWL_FLAGS, *args],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    peak = int(result.stderr.rsplit("MAXRSS", 1)[1].split()[0])
    return result, peak


BOMB_SIZE = 512 << 20  # 512 MiB inflated


def test_gzip_and_deflate_bombs_are_skipped_with_bounded_memory(site, sqlite_url):
    gzip_bomb = _bomb(BOMB_SIZE, 16 + zlib.MAX_WBITS)  # gzip container
    deflate_bomb = _bomb(BOMB_SIZE, zlib.MAX_WBITS)  # zlib container, as HTTP "deflate" means
    assert len(gzip_bomb) < 1_000_000 and len(deflate_bomb) < 1_000_000
    assert zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(gzip_bomb, 4096).startswith(b"<html>")
    site.link("/news/2025/03/07/gzip-bomb-story/", "/news/2025/03/08/deflate-bomb-story/")
    with serving(site) as sites:
        sites.routes[(SLUG, "/news/2025/03/07/gzip-bomb-story/")] = lambda r: (
            200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, gzip_bomb)
        sites.routes[(SLUG, "/news/2025/03/08/deflate-bomb-story/")] = lambda r: (
            200, {"Content-Type": "text/html", "Content-Encoding": "deflate"}, deflate_bomb)
        result, peak_kib = crawl_measuring_memory(sqlite_url, "--set", "DOWNLOAD_MAXSIZE=4000000",
                                                  sites[SLUG].url("/"))
        assert result.returncode == 0, result.stdout + result.stderr
        assert fetched(sites, "/news/2025/03/07/gzip-bomb-story/") >= 1
        assert fetched(sites, "/news/2025/03/08/deflate-bomb-story/") >= 1
    run = last_run(sqlite_url)
    assert run.skips.get("too_large_decompressed") == 2, run.skips
    assert "too_large_decompressed=2" in result.stdout
    assert set(stored_articles(sqlite_url)) == {sites[SLUG].url(p) for p in GOOD}
    assert consistency_problems(sqlite_url) == []
    # Inflating either bomb would take 512 MiB; the crawler never holds more than a fraction of it.
    assert peak_kib < 400 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"


# 5 -------------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n<p>not html</p>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"<div>" * 10


def test_non_html_content_types_are_skipped_as_not_html(site, sqlite_url):
    site.link("/news/2025/03/09/annual-report-download", "/news/2025/03/09/photo-of-the-day")
    with serving(site) as sites:
        # The bodies contain "<p" and "<div": sniffing alone would call them HTML; their type says otherwise.
        sites.routes[(SLUG, "/news/2025/03/09/annual-report-download")] = lambda r: (
            200, {"Content-Type": "application/pdf"}, PDF)
        sites.routes[(SLUG, "/news/2025/03/09/photo-of-the-day")] = lambda r: (
            200, {"Content-Type": "image/png"}, PNG)
        result, run, stored = crawl_ok(sites, sqlite_url)
        assert fetched(sites, "/news/2025/03/09/annual-report-download") == 1
    assert run.skips.get("not_html") == 2, run.skips
    assert "not_html=2" in result.stdout
    assert len(stored) == len(GOOD)


# 6 -------------------------------------------------------------------------

_ENTITIES = '<!ENTITY lol "lol">' + "".join(
    f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10))
FROM_FEED = "/news/2025/03/10/story-listed-only-in-the-feed/"


def _xml_bomb(root: str, inner: str) -> bytes:
    return f'<?xml version="1.0"?>\n<!DOCTYPE {root} [\n{_ENTITIES}\n]>\n{inner}'.encode()


def feed_bomb(base: str) -> bytes:
    return _xml_bomb("rss", f'<rss version="2.0"><channel><title>&lol9;</title><link>{base}/</link>'
                            f'<item><title>&lol9;</title><link>{base}{FROM_FEED}</link>'
                            f'<description>&lol9;</description></item></channel></rss>')


def sitemap_bomb(base: str) -> bytes:
    return _xml_bomb("urlset", '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                               f'<url><loc>{base}{FROM_FEED}</loc><lastmod>&lol9;</lastmod></url></urlset>')


def test_xml_entity_bombs_in_feed_and_sitemap_never_expand():
    # The parsers themselves: a billion laughs stays unexpanded and takes no time.
    started = time.monotonic()
    entries = feed_entries(feed_bomb("http://x.example"))
    assert [e.url for e in entries] == [f"http://x.example{FROM_FEED}"]
    assert all(len(e.title or "") < 100 for e in entries)
    entries = sitemap_entries(sitemap_bomb("http://x.example"))
    assert [e.url for e in entries] == [f"http://x.example{FROM_FEED}"]
    assert time.monotonic() - started < 2


def test_xml_entity_bombs_are_skipped_or_parsed_safely_in_a_crawl(site, sqlite_url):
    site.article(FROM_FEED, "A story listed only in the feed", 31, linked=False)
    site.robots("User-agent: *\nAllow: /\nSitemap: {{BASE}}/sitemap-bomb.xml\n")
    with serving(site) as sites:
        base = sites[SLUG].base_url
        sites.routes[(SLUG, "/feed-bomb.xml")] = lambda r: (200, {"Content-Type": "application/rss+xml"},
                                                            feed_bomb(base))
        sites.routes[(SLUG, "/sitemap-bomb.xml")] = lambda r: (200, {"Content-Type": "application/xml"},
                                                               sitemap_bomb(base))
        started = time.monotonic()
        result, peak_kib = crawl_measuring_memory(sqlite_url, sites[SLUG].url("/"), sites[SLUG].url("/feed-bomb.xml"))
        took = time.monotonic() - started
        assert result.returncode == 0, result.stdout + result.stderr
        assert fetched(sites, "/feed-bomb.xml") == 1 and fetched(sites, "/sitemap-bomb.xml") == 1
    assert took < 30 and peak_kib < 400 * 1024
    stored = stored_articles(sqlite_url)
    assert {sites[SLUG].url(p) for p in GOOD} <= set(stored)
    assert consistency_problems(sqlite_url) == []
    run = last_run(sqlite_url)
    # Either both bombs were set aside with a reason, or they were parsed without expansion
    # (then the one real entry they list was followed and stored under its own title).
    skipped = sum(run.skips.get(reason, 0) for reason in ("not_html", "bad_feed", "bad_sitemap"))
    if skipped < 2:
        assert stored[sites[SLUG].url(FROM_FEED)].title == "A story listed only in the feed"
    assert all("lollol" not in (a.title or "") + a.text for a in stored.values())


# 7 -------------------------------------------------------------------------

def test_redirect_loops_are_skipped_with_a_reason(site, sqlite_url):
    site.manifest["redirect"] = [
        {"from": "/news/2025/03/11/loop-a/", "to": "/news/2025/03/11/loop-b/", "status": 302},
        {"from": "/news/2025/03/11/loop-b/", "to": "/news/2025/03/11/loop-a/", "status": 302},
        {"from": "/news/2025/03/12/self-loop/", "to": "/news/2025/03/12/self-loop/", "status": 301},
    ]
    site.link("/news/2025/03/11/loop-a/", "/news/2025/03/12/self-loop/", "/news/2025/03/13/endless/0")
    with serving(site) as sites:
        def endless(request):  # a chain that never repeats a URL
            n = int(request.path.rsplit("/", 1)[1] or 0)
            return 302, {"Location": f"/news/2025/03/13/endless/{n + 1}"}, b""
        for n in range(20):
            sites.routes[(SLUG, f"/news/2025/03/13/endless/{n}")] = endless
        result, run, stored = crawl_ok(sites, sqlite_url)
    assert run.skips.get("redirect_loop") == 2, run.skips
    assert run.skips.get("too_many_redirects") == 1, run.skips
    assert "redirect_loop=2" in result.stdout
    assert len(stored) == len(GOOD)


# 8 -------------------------------------------------------------------------

def test_http_errors_are_recorded_by_status(site, sqlite_url):
    statuses = {"/news/2025/03/14/gone-missing/": 404, "/news/2025/03/14/removed-for-good/": 410,
                "/news/2025/03/14/server-broke/": 500, "/news/2025/03/14/server-busy/": 503}
    site.link(*statuses)
    with serving(site) as sites:
        for path, status in statuses.items():
            sites.routes[(SLUG, path)] = lambda r, s=status: (s, {"Content-Type": "text/html"},
                                                               b"<html><body><p>error</p></body></html>")
        result, run, stored = crawl_ok(sites, sqlite_url, "RETRY_TIMES=1")
        assert fetched(sites, "/news/2025/03/14/server-busy/") == 2  # retried once
    assert run.skips == {"http_404": 1, "http_410": 1}, run.skips
    assert run.errors == {"http_500": 1, "http_503": 1}, run.errors
    for reason in ("http_404=1", "http_410=1", "http_500=1", "http_503=1"):
        assert reason in result.stdout


# 9 -------------------------------------------------------------------------

def test_timeouts_and_connection_resets_are_errors_and_the_crawl_goes_on(site, sqlite_url):
    site.article("/news/2025/03/15/third-good-story-for-the-share/", "Third good story", 3)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5000\r\n\r\n"
    bad = {
        "/news/2025/03/16/server-too-slow/": lambda r: (time.sleep(3), (200, {"Content-Type": "text/html"}, b"late"))[1],
        "/news/2025/03/16/reset-mid-body/": lambda r: reset_connection(r, head + b"<html><body><p>half of"),
        "/news/2025/03/16/reset-before-answer/": lambda r: reset_connection(r),
        "/news/2025/03/16/body-shorter-than-length/": lambda r: send_raw(r, head + b"<html><body><p>short"),
    }
    site.link(*bad)
    with serving(site) as sites:
        sites.routes.update({(SLUG, path): handler for path, handler in bad.items()})
        started = time.monotonic()
        result, run, stored = crawl_ok(sites, sqlite_url, "DOWNLOAD_TIMEOUT=1", "RETRY_TIMES=0")
        assert time.monotonic() - started < 60
    assert run.errors == {"timeout": 1, "connection_lost": 3}, run.errors
    assert sites[SLUG].url("/news/2025/03/15/third-good-story-for-the-share/") in stored
    assert run.status == "finished"


# 10 ------------------------------------------------------------------------

def test_empty_bodies_are_skipped(site, sqlite_url):
    site.link("/news/2025/03/17/empty-200-response/", "/news/2025/03/17/blank-200-response/")
    with serving(site) as sites:
        sites.routes[(SLUG, "/news/2025/03/17/empty-200-response/")] = lambda r: (
            200, {"Content-Type": "text/html; charset=utf-8", "Content-Length": "0"}, b"")
        sites.routes[(SLUG, "/news/2025/03/17/blank-200-response/")] = lambda r: (
            200, {"Content-Type": "text/html"}, b" \r\n\t \n")
        result, run, stored = crawl_ok(sites, sqlite_url)
    assert run.skips.get("empty_body") == 2, run.skips
    assert "empty_body=2" in result.stdout
    assert len(stored) == len(GOOD)


# 11 ------------------------------------------------------------------------

def test_robots_disallowed_urls_are_never_fetched(site, sqlite_url):
    hidden = "/private/news/2025/03/18/members-only-story/"
    site.article(hidden, "Members only", 41)
    site.robots("User-agent: *\nDisallow: /private/\n")
    with serving(site) as sites:
        result, run, stored = crawl_ok(sites, sqlite_url)
        assert fetched(sites, "/robots.txt") >= 1
        assert fetched(sites, hidden) == 0
    assert sites[SLUG].url(hidden) not in stored
    assert run.skips.get("robots_disallowed") == 1, run.skips
    assert "robots_disallowed=1" in result.stdout


# 12 ------------------------------------------------------------------------

def test_article_looking_page_without_text_is_not_stored(site, sqlite_url):
    nav_only = """<!DOCTYPE html><html><head><title>Story</title></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news/">News</a></li><li><a href="/sport/">Sport</a></li></ul></nav>
<header><a href="/login">Log in</a></header><footer><a href="/about">About us</a></footer></body></html>"""
    path = "/news/2025/03/19/this-looks-like-an-article-url/"
    site.page(path, nav_only)
    site.link(path)
    with serving(site) as sites:
        result, run, stored = crawl_ok(sites, sqlite_url)
        assert fetched(sites, path) == 1
    assert sites[SLUG].url(path) not in stored
    assert "too_little_text=1" in result.stdout, result.stdout
    assert run.errors == {}
