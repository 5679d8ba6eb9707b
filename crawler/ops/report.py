"""``newscrawl report``: one static HTML page of story clusters and per-site crawl health.

``render_report(engine)`` is a pure function from a database to an HTML string,
so it is tested without a browser (and in a real one by
tests/test_report_browser.py). The page is self-contained: inline CSS and
inline SVG, no scripts, no external resources, so it can be mailed, archived or
opened from a file. Every piece of text from the database is escaped; links
are only made for http(s) URLs.

It reads the ``clean_articles`` view, the documented contract, like any other
downstream tool.

Markup hooks (stable, used by the browser test): each cluster is
``<section class="story" data-story-id>``; each near-duplicate group in it is one
``<article class="item" data-article-id>`` card for the group's canonical
article, with the group's other copies as ``<li class="copy" data-article-id>``
inside that card's ``<details class="copies">``. Per-site health is
``<tr class="site" data-site>``.
"""
from __future__ import annotations

import datetime as dt
import html
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import Engine, case, func, select

from models.base import UTCDateTime
from models.views import clean_articles

view = clean_articles.c

CSS = """
:root { color-scheme: light; --ink: #1d232b; --muted: #5d6875; --line: #d9dee4; --bar: #3f6fb5; --warn: #c2552b; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 80rem; padding: 1.5rem; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #fafbfc; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .75rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
.meta, .muted { color: var(--muted); font-size: .85rem; }
.story { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem 1rem; margin: 0 0 1rem; }
.story h3 { font-size: 1rem; margin: 0 0 .6rem; }
.cards { margin-top: .5rem; display: grid; grid-template-columns: repeat(auto-fill, minmax(17rem, 1fr)); gap: .75rem; }
.item { border: 1px solid var(--line); border-radius: 4px; padding: .6rem .75rem; background: #fcfdfe; }
.outlet { font-weight: 600; font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); }
.title { display: block; margin: .2rem 0; font-weight: 600; color: var(--ink); }
a.title:hover { text-decoration: underline; }
details.copies { margin-top: .4rem; font-size: .85rem; }
details.copies summary { cursor: pointer; color: var(--bar); }
details.copies a.copy-title { color: var(--ink); }
details.copies ul { margin: .3rem 0 0; padding-left: 1.1rem; }
table.health { border-collapse: collapse; width: 100%; background: #fff; }
table.health th, table.health td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: middle; }
table.health td.num { text-align: right; font-variant-numeric: tabular-nums; }
svg .bar { fill: var(--bar); }
svg .axis { stroke: var(--line); }
svg .missing { fill: var(--warn); }
svg .track { fill: #eceff3; }
"""


@dataclass
class Card:
    """A near-duplicate group within a story: its canonical article and the copies folded under it."""

    canonical: object  # a clean_articles row
    copies: list = field(default_factory=list)


@dataclass
class Cluster:
    story_id: int
    newest: dt.datetime | None
    cards: list[Card]

    @property
    def size(self) -> int:
        return sum(1 + len(card.copies) for card in self.cards)


@dataclass
class SiteHealth:
    site: str
    name: str | None
    articles: int
    missing_dates: int
    per_day: dict[dt.date, int]  # fetched per UTC day, within the window

    @property
    def missing_share(self) -> float:
        return self.missing_dates / self.articles if self.articles else 0.0


# --- data ---------------------------------------------------------------------

def _when(row):
    """Sort key: publication time, else fetch time; rows without a date sort last among equals."""
    return (row.published_at is None, row.published_at or row.fetched_at, row.id)


def _cards(members: list) -> list[Card]:
    groups: dict[int, list] = defaultdict(list)
    for row in members:
        groups[row.dup_group_id if row.dup_group_id is not None else -row.id].append(row)
    cards = []
    for rows in groups.values():
        rows.sort(key=_when)
        # Exactly one canonical row per group is the documented invariant; if a
        # group somehow has none, its earliest article stands in rather than
        # dropping the group from the page.
        canonical = next((row for row in rows if row.is_canonical), rows[0])
        cards.append(Card(canonical, [row for row in rows if row is not canonical]))
    cards.sort(key=lambda card: _when(card.canonical))
    return cards


def load_clusters(engine: Engine, max_stories: int) -> tuple[list[Cluster], int, int]:
    """Stories with more than one article, newest then largest first, at most ``max_stories``.

    Returns (clusters, number of multi-article stories, number of single-article stories)."""
    newest = func.max(func.coalesce(view.published_at, view.fetched_at, type_=UTCDateTime), type_=UTCDateTime)
    size = func.count()
    per_story = (select(view.story_id, size.label("size"), newest.label("newest"))
                 .where(view.story_id.is_not(None)).group_by(view.story_id))
    with engine.connect() as conn:
        top = conn.execute(
            per_story.having(size > 1).order_by(newest.desc(), size.desc(), view.story_id).limit(max_stories)
        ).all()
        sizes = per_story.subquery()
        # Both counts in one pass over the stories (each pass reads an index of every article).
        multi, single = conn.execute(select(func.sum(case((sizes.c.size > 1, 1), else_=0)),
                                            func.sum(case((sizes.c.size == 1, 1), else_=0)))).one()
        multi, single = int(multi or 0), int(single or 0)
        members: dict[int, list] = defaultdict(list)
        if top:
            rows = conn.execute(select(clean_articles).where(view.story_id.in_([t.story_id for t in top])))
            for row in rows:
                members[row.story_id].append(row)
    clusters = [Cluster(t.story_id, t.newest, _cards(members[t.story_id])) for t in top]
    return clusters, multi, single


def load_site_health(engine: Engine, days: int, now: dt.datetime) -> list[SiteHealth]:
    """Per site: article count, how many lack a publication date, and articles fetched per UTC day."""
    start_day = now.astimezone(dt.timezone.utc).date() - dt.timedelta(days=days - 1)
    window_start = dt.datetime.combine(start_day, dt.time(), tzinfo=dt.timezone.utc)
    with engine.connect() as conn:
        # Counts from an index alone (site, dates), then each site's name from its latest
        # article: reading site_name in the same pass would read every article row.
        totals = conn.execute(
            select(view.site, func.count(), func.sum(case((view.published_at.is_(None), 1), else_=0)))
            .group_by(view.site).order_by(view.site)
        ).all()
        latest = select(func.max(view.id)).group_by(view.site)
        names = dict(conn.execute(select(view.site, view.site_name).where(view.id.in_(latest.scalar_subquery()))).all())
        health = {site: SiteHealth(site, names.get(site), count, int(missing or 0), defaultdict(int))
                  for site, count, missing in totals}
        # Bucketed here rather than with SQL date functions, which differ between
        # SQLite and PostgreSQL (and PostgreSQL's follow the session time zone).
        # Only the window's rows are read, streamed.
        recent = conn.execution_options(stream_results=True, yield_per=10_000).execute(
            select(view.site, view.fetched_at).where(view.fetched_at >= window_start))
        for site, fetched_at in recent:
            health[site].per_day[fetched_at.date()] += 1
    return list(health.values())


# --- rendering ----------------------------------------------------------------

def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _href(url: str | None) -> str | None:
    """The URL if it is safe to link (http/https), else None: stored URLs come from crawled pages."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def _time(value: dt.datetime | None) -> str:
    if value is None:
        return '<span class="muted">no date</span>'
    return f'<time datetime="{esc(value.isoformat())}">{esc(value.strftime("%Y-%m-%d %H:%M"))} UTC</time>'


def _outlet(row) -> str:
    return row.site_name or row.site


def _title_link(row, css_class: str = "title") -> str:
    title = esc(row.title or row.canonical_url)
    href = _href(row.canonical_url) or _href(row.url)
    if href is None:
        return f'<span class="{css_class}">{title}</span>'
    return f'<a class="{css_class}" href="{esc(href)}">{title}</a>'


def render_card(card: Card) -> str:
    row = card.canonical
    parts = [
        f'<article class="item" data-article-id="{row.id}">',
        f'<div class="outlet">{esc(_outlet(row))}</div>',
        _title_link(row),
        f'<div class="meta">{_time(row.published_at)}</div>',
    ]
    if card.copies:
        label = "1 near-duplicate copy" if len(card.copies) == 1 else f"{len(card.copies)} near-duplicate copies"
        parts.append(f'<details class="copies"><summary>{label}</summary><ul>')
        for copy in card.copies:
            similarity = (f' <span class="muted">similarity {copy.dup_similarity:.2f}</span>'
                          if copy.dup_similarity is not None else "")
            parts.append(
                f'<li class="copy" data-article-id="{copy.id}"><span class="outlet">{esc(_outlet(copy))}</span> '
                f'{_title_link(copy, "copy-title")} <span class="meta">{_time(copy.published_at)}</span>'
                f'{similarity}</li>'
            )
        parts.append("</ul></details>")
    parts.append("</article>")
    return "".join(parts)


def render_cluster(cluster: Cluster) -> str:
    outlets = len({_outlet(card.canonical) for card in cluster.cards})
    headline = cluster.cards[0].canonical.title or "(untitled)"
    return (
        f'<section class="story" data-story-id="{cluster.story_id}" data-size="{cluster.size}">'
        f'<h3>{esc(headline)}</h3>'
        f'<div class="meta">story {cluster.story_id} · {cluster.size} articles · {outlets} '
        f'{"outlet" if outlets == 1 else "outlets"} · latest {_time(cluster.newest)}</div>'
        f'<div class="cards">{"".join(render_card(card) for card in cluster.cards)}</div>'
        "</section>"
    )


def per_day_svg(site: SiteHealth, days: int, end: dt.date) -> str:
    """Bars of articles fetched per day; each bar's <title> is a native tooltip (no script)."""
    bar, gap, height = 6, 2, 36
    width = days * (bar + gap)
    peak = max(site.per_day.values(), default=0)
    total = sum(site.per_day.values())
    bars = []
    for index in range(days):
        day = end - dt.timedelta(days=days - 1 - index)
        count = site.per_day.get(day, 0)
        h = round(height * count / peak) if peak else 0
        if count and h == 0:
            h = 1
        bars.append(f'<rect class="bar" x="{index * (bar + gap)}" y="{height - h}" width="{bar}" height="{h}">'
                    f'<title>{day.isoformat()}: {count}</title></rect>')
    label = f"{esc(site.site)}: {total} articles fetched in the last {days} days, at most {peak} a day"
    return (f'<svg class="per-day" role="img" aria-label="{label}" width="{width}" height="{height + 1}" '
            f'viewBox="0 0 {width} {height + 1}" xmlns="http://www.w3.org/2000/svg">'
            f'<line class="axis" x1="0" y1="{height + 0.5}" x2="{width}" y2="{height + 0.5}"/>'
            f'{"".join(bars)}</svg>')


def missing_dates_svg(site: SiteHealth) -> str:
    width, height = 100, 10
    filled = round(width * site.missing_share)
    return (f'<svg class="missing-dates" role="img" aria-label="{site.missing_share:.0%} without a date" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
            f'<rect class="track" width="{width}" height="{height}"/>'
            f'<rect class="missing" width="{filled}" height="{height}"/></svg>')


def render_health(sites: list[SiteHealth], days: int, now: dt.datetime) -> str:
    end = now.astimezone(dt.timezone.utc).date()
    rows = []
    for site in sites:
        name = f'<div class="muted">{esc(site.name)}</div>' if site.name and site.name != site.site else ""
        rows.append(
            f'<tr class="site" data-site="{esc(site.site)}"><td>{esc(site.site)}{name}</td>'
            f'<td class="num">{site.articles}</td>'
            f'<td>{per_day_svg(site, days, end)}</td>'
            f'<td>{missing_dates_svg(site)} <span class="num">{site.missing_share:.0%}</span> '
            f'<span class="muted">({site.missing_dates} of {site.articles})</span></td></tr>'
        )
    return (
        '<table class="health"><thead><tr><th>site</th><th>articles</th>'
        f'<th>fetched per day, last {days} days (UTC)</th><th>no publication date</th></tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table>'
    )


CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                           "base-uri 'none'; form-action 'none'")


def render_report(engine: Engine, days: int = 30, max_stories: int = 200, now: dt.datetime | None = None) -> str:
    """The whole page as a string."""
    now = now or dt.datetime.now(dt.timezone.utc)
    clusters, multi, single = load_clusters(engine, max_stories)
    sites = load_site_health(engine, days, now)
    articles = sum(site.articles for site in sites)
    shown = (f"{len(clusters)} of {multi} stories with more than one article, newest then largest first"
             if multi > len(clusters) else
             f"{multi} {'story' if multi == 1 else 'stories'} with more than one article, newest then largest first")
    stories_html = "".join(render_cluster(c) for c in clusters) or '<p class="muted">No story has more than one article yet.</p>'
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        # The text comes from crawled pages: should anything ever slip past the escaping,
        # the browser still runs no script and loads nothing (inline CSS and SVG only).
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>newscrawl report</title>"
        f"<style>{CSS}</style></head><body>"
        "<header><h1>newscrawl report</h1>"
        f'<p class="meta">Generated {_time(now)} · {articles} articles from {len(sites)} sites · '
        f"{multi + single} stories ({single} with a single article, not shown)</p></header>"
        f'<main><h2 id="stories">Stories</h2><p class="meta">{shown}. Near-duplicate copies are folded '
        "under their group's canonical article.</p>"
        f"{stories_html}"
        f'<h2 id="health">Crawl health per site</h2>{render_health(sites, days, now)}'
        "</main></body></html>\n"
    )
