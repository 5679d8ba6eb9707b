"""Human-readable summaries printed by `newscrawl crawl` and `newscrawl demo`."""
from __future__ import annotations

from collections import defaultdict
from typing import IO

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from crawler.ops.run import CrawlReport
from crawler.outcomes import split_reasons
from models import Article


def print_crawl_summary(report: CrawlReport, engine: Engine, out: IO[str]) -> None:
    print(
        f"Crawl {report.stats.get('newscrawl/run_status', report.finish_reason)} in {report.seconds:.1f} s: "
        f"{report.count('downloader/response_count')} responses, "
        f"articles new {report.count('newscrawl/articles/new')}, "
        f"updated {report.count('newscrawl/articles/updated')}, "
        f"unchanged {report.count('newscrawl/articles/unchanged')}",
        file=out,
    )
    print(completeness_line(report.stats), file=out)
    print_skip_summary(report, out)
    for site, problem in sorted(report.stats.get("newscrawl/site_problems", {}).items()):
        print(f"Site {site}: {problem}", file=out)
    not_articles = report.by_prefix("newscrawl/pages/not_article/")
    if not_articles:
        print("Not articles (crawled for links): " + ", ".join(f"{k}={v}" for k, v in not_articles.items()), file=out)
    limits = report.by_prefix("newscrawl/limits/")
    if limits:
        print("Limits hit (README \"Security\"): " + ", ".join(f"{k}={v}" for k, v in limits.items()), file=out)
    robots = report.count("robotstxt/forbidden")
    if robots:
        print(f"Disallowed by robots.txt: {robots}", file=out)
    for error in report.errors:
        print(f"Error: {error}", file=out)
    if "newscrawl/dedupe/index_articles" in report.stats:
        print(
            f"Dedupe index: {report.count('newscrawl/dedupe/index_articles')} articles "
            f"(the window of ±{report.stats.get('newscrawl/dedupe/window_hours', 0) / 24:.0f} days around the "
            f"articles stored, and older copies they matched), "
            f"{report.count('newscrawl/dedupe/index_bytes') / 1e6:.1f} MB; "
            f"the window loaded in {report.stats.get('newscrawl/dedupe/window_load_seconds', 0):.1f} s",
            file=out,
        )
    if report.stats.get("newscrawl/pool/seconds"):
        stats = report.stats
        print(
            f"Extraction pool: {stats['newscrawl/pool/processes']} processes, "
            f"{stats['newscrawl/pool/mean_in_flight']:.1f} pages in flight on average; fewer pages than "
            f"processes {stats['newscrawl/pool/starved_seconds'] / stats['newscrawl/pool/seconds']:.0%} of "
            f"its {stats['newscrawl/pool/seconds']:.1f} s (then fetching or storing, not extraction, set the pace)",
            file=out,
        )
    with Session(engine) as session:
        articles = session.scalar(select(func.count()).select_from(Article)) or 0
        sites = session.scalar(select(func.count(func.distinct(Article.site)))) or 0
        groups = session.scalar(select(func.count(func.distinct(Article.dup_group_id)))) or 0
        stories = session.scalar(select(func.count(func.distinct(Article.story_id)))) or 0
    print(
        f"Database: {articles} articles from {sites} sites, {groups} near-duplicate groups, {stories} stories",
        file=out,
    )


def completeness_line(stats: dict) -> str:
    """One line: pages fetched, article pages, stored, and why the rest were not stored."""
    from crawler.extensions import completeness

    c = completeness(stats)
    line = f"Completeness: {c['fetched']} pages fetched, {c['article_pages']} article pages, {c['stored']} stored"
    if c["not_stored"]:
        line += "; not stored: " + ", ".join(f"{k}={v}" for k, v in c["not_stored"].items())
    if c["fetch_failed"]:
        line += "; fetches failed: " + ", ".join(f"{k}={v}" for k, v in sorted(c["fetch_failed"].items()))
    return line


def print_skip_summary(report: CrawlReport, out: IO[str]) -> None:
    """Skips grouped by reason, most frequent first, each with a few example URLs (the
    per-URL lines are in the DEBUG log: -vv or --set LOG_LEVEL=DEBUG)."""
    skipped = report.by_prefix("newscrawl/skipped/")
    if report.count("urllength/request_ignored_count"):  # dropped by Scrapy's URLLENGTH_LIMIT
        skipped["url_too_long"] = skipped.get("url_too_long", 0) + report.count("urllength/request_ignored_count")
    if not skipped:
        return
    examples = report.stats.get("newscrawl/skip_examples", {})
    ordered = sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0]))
    print("Skipped: " + ", ".join(f"{reason}={count}" for reason, count in ordered), file=out)
    for reason, _ in ordered:
        if examples.get(reason):
            print(f"  {reason}: e.g. {', '.join(examples[reason])}", file=out)


def print_one_line(report: CrawlReport, out: IO[str]) -> None:
    _, errors = split_reasons(report.stats)
    status = report.stats.get("newscrawl/run_status", report.finish_reason)
    print(
        f"newscrawl crawl {status}: {report.count('downloader/response_count')} responses, "
        f"{report.count('newscrawl/articles/new')} new articles, errors: "
        + (", ".join(f"{k}={v}" for k, v in sorted(errors.items())) or "none")
        + "".join(f"; {e}" for e in report.errors)
        + "".join(f"; site {site}: {problem}"
                  for site, problem in sorted(report.stats.get("newscrawl/site_problems", {}).items())),
        file=out,
    )


def print_articles_and_stories(engine: Engine, out: IO[str]) -> None:
    with Session(engine) as session:
        rows = session.execute(
            select(
                Article.id,
                func.coalesce(Article.site_name, Article.site).label("site"),
                Article.published_at,
                Article.title,
                Article.dup_group_id,
                Article.story_id,
                Article.is_canonical,
            ).order_by(Article.site, Article.published_at)
        ).all()
    print("\nArticles", file=out)
    print(f"{'id':>4}  {'site':<24}  {'published (UTC)':<16}  title", file=out)
    for id_, site, published, title, *_ in rows:
        when = published.strftime("%Y-%m-%d %H:%M") if published else "(no date)"
        print(f"{id_:>4}  {site[:24]:<24}  {when:<16}  {(title or '(untitled)')[:70]}", file=out)
    stories: dict[int, list] = defaultdict(list)
    for row in rows:
        stories[row.story_id].append(row)
    multi = {k: v for k, v in stories.items() if len(v) > 1}
    print(f"\nStory clusters with more than one article: {len(multi)} (of {len(stories)} stories)", file=out)
    for story_id, members in sorted(multi.items(), key=lambda kv: -len(kv[1])):
        print(f"  story {story_id}: {len(members)} articles", file=out)
        canonical = {m.dup_group_id: m.id for m in members if m.is_canonical}
        for member in sorted(members, key=lambda r: (r.published_at is None, r.published_at, r.id)):
            copy = "" if member.is_canonical else f"  (copy of #{canonical.get(member.dup_group_id, member.dup_group_id)})"
            print(f"    #{member.id:<4} {member.site[:24]:<24}  {(member.title or '')[:60]}{copy}", file=out)
