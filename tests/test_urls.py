import pytest

from crawler.page.urls import amp_to_original, canonicalize, is_amp_url, same_site, site_of


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("HTTP://Example.COM:80/a/b/?utm_source=x&id=3&fbclid=zz#frag", "http://example.com/a/b/?id=3"),
        ("https://news.example/story?gclid=1&utm_medium=email&utm_campaign=c", "https://news.example/story"),
        ("https://news.example/story?page=2#comments", "https://news.example/story?page=2"),
        ("https://news.example", "https://news.example/"),
        ("https://news.example/a/../b/", "https://news.example/b/"),
    ],
)
def test_canonicalize_drops_trackers_and_fragments(raw, expected):
    assert canonicalize(raw) == expected


def test_canonicalize_keeps_meaningful_query():
    assert canonicalize("https://news.example/article.php?story=123") == "https://news.example/article.php?story=123"


@pytest.mark.parametrize(
    "amp, original",
    [
        ("https://news.example/2025/01/28/story/amp/", "https://news.example/2025/01/28/story/"),
        ("https://news.example/amp/2025/01/28/story", "https://news.example/2025/01/28/story"),
        ("https://news.example/story.amp.html", "https://news.example/story.html"),
        ("https://news.example/story?amp=1", "https://news.example/story"),
        ("https://news.example/story?outputType=amp&id=4", "https://news.example/story?id=4"),
    ],
)
def test_amp_urls_map_to_original(amp, original):
    assert is_amp_url(amp)
    assert amp_to_original(amp) == original


def test_non_amp_url_is_not_amp():
    assert not is_amp_url("https://news.example/2025/01/28/amplifier-sales-rise/")
    assert not is_amp_url("https://news.example/examples/")


def test_site_of_registered_domain_and_local_ports():
    assert site_of("https://www.bbc.co.uk/news/x") == "bbc.co.uk"
    assert site_of("https://news.bbc.co.uk/x") == "bbc.co.uk"
    assert site_of("http://127.0.0.1:8701/x") == "127.0.0.1:8701"
    assert site_of("http://localhost/x") == "localhost"
    assert same_site("http://127.0.0.1:8701/a", "127.0.0.1:8701")
    assert not same_site("http://127.0.0.1:8702/a", "127.0.0.1:8701")
    with pytest.raises(ValueError, match="no host"):
        site_of("/relative/path")
