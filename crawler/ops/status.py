"""``newscrawl status``: recent runs and per-site health, for people and cron."""
from __future__ import annotations

import datetime as dt
import statistics
from typing import IO

from sqlalchemy import Engine, case, func, select
from sqlalchemy.orm import Session

from models import Article, CrawlRun

YIELD_DROP = 0.5  # warn when a site's latest yield is below half its usual yield
MIN_PAGES_FOR_YIELD = 5  # too few article pages in a run say nothing about yield


def site_yield(entry: dict) -> float | None:
    pages = entry.get("article_pages", 0)
    if pages < MIN_PAGES_FOR_YIELD:
        return None
    return entry.get("stored", 0) / pages


def yield_warnings(runs: list[CrawlRun]) -> list[str]:
    """Sites whose yield in their latest run fell below YIELD_DROP x their median over earlier runs.

    A sharp drop in yield (article pages that gave no text) is the usual sign
    that the site changed its templates."""
    history: dict[str, list[float]] = {}
    for run in sorted(runs, key=lambda r: r.id):  # oldest first
        for site, entry in (run.sites or {}).items():
            value = site_yield(entry)
            if value is not None:
                history.setdefault(site, []).append(value)
    warnings = []
    for site, values in sorted(history.items()):
        if len(values) < 2:
            continue
        latest, usual = values[-1], statistics.median(values[:-1])
        if usual > 0 and latest < YIELD_DROP * usual:
            warnings.append(f"{site}: extraction yield fell to {latest:.0%} from a usual {usual:.0%} "
                            f"(template change?)")
    return warnings


def site_problem_warnings(recent: list[CrawlRun]) -> list[str]:
    """Sites that gave nothing, or whose start URL failed, in the latest finished run."""
    latest = next((run for run in recent if run.finished_at is not None), None)
    if latest is None:
        return []
    return [f"{site}: {entry['problem']} in run {latest.id}"
            for site, entry in sorted((latest.sites or {}).items()) if isinstance(entry, dict) and entry.get("problem")]


def print_status(engine: Engine, out: IO[str], runs: int = 10, days: int = 7) -> list[str]:
    now = dt.datetime.now(dt.timezone.utc)
    since = now - dt.timedelta(days=days)
    with Session(engine) as session:
        recent = list(session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(runs)))
        history = list(session.scalars(select(CrawlRun).where(CrawlRun.finished_at.is_not(None))
                                       .order_by(CrawlRun.id.desc()).limit(50)))
        sites = session.execute(
            select(
                Article.site,
                func.count(),
                func.sum(case((Article.published_at.is_(None), 1), else_=0)),
                func.sum(case((Article.fetched_at >= since, 1), else_=0)),
                func.max(Article.fetched_at),
            ).group_by(Article.site).order_by(Article.site)
        ).all()

    print(f"Last {len(recent)} runs", file=out)
    print(f"{'id':>5}  {'started (UTC)':<16}  {'took':>6}  {'status':<11}  {'pages':>6}  {'new':>5}  {'upd':>4}  "
          f"{'same':>5}  {'skipped':>7}  errors", file=out)
    for run in recent:
        took = f"{(run.finished_at - run.started_at).total_seconds():.0f}s" if run.finished_at else "-"
        status = run.status if run.finished_at or run.status == "interrupted" else "running or killed"
        errors = ", ".join(f"{k}={v}" for k, v in sorted((run.errors or {}).items())) or "-"
        print(f"{run.id:>5}  {run.started_at:%Y-%m-%d %H:%M}  {took:>6}  {status:<11}  {run.pages_fetched:>6}  "
              f"{run.articles_new:>5}  {run.articles_updated:>4}  {run.articles_unchanged:>5}  "
              f"{sum((run.skips or {}).values()):>7}  {errors}", file=out)

    print(f"\nSites (articles per day: fetched in the last {days} days)", file=out)
    print(f"{'site':<28}  {'articles':>8}  {'per day':>7}  {'no date':>7}  {'last yield':>10}  last fetched", file=out)
    latest_yield: dict[str, float] = {}
    for run in reversed(history):
        for site, entry in (run.sites or {}).items():
            value = site_yield(entry)
            if value is not None:
                latest_yield[site] = value
    for site, total, undated, recent_count, last in sites:
        yield_text = f"{latest_yield[site]:.0%}" if site in latest_yield else "-"
        print(f"{site[:28]:<28}  {total:>8}  {recent_count / days:>7.1f}  {(undated or 0) / total:>7.0%}  "
              f"{yield_text:>10}  {last:%Y-%m-%d %H:%M}", file=out)

    latest = next((run for run in recent if run.finished_at is not None), None)
    listed = {site for site, *_ in sites}
    for site in sorted(set((latest.sites or {}) if latest else ()) - listed):
        # Asked for in the latest run, but nothing stored yet: shown, not left out.
        print(f"{site[:28]:<28}  {0:>8}  {0:>7.1f}  {'-':>7}  {'-':>10}  never", file=out)

    warnings = yield_warnings(history) + site_problem_warnings(recent)
    for warning in warnings:
        print(f"WARNING: {warning}", file=out)
    return warnings
