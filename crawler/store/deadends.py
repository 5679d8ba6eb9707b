"""The ``dead_ends`` table: URLs not worth requesting again for a while
(crawler.middlewares.deadends decides; this module reads and writes)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models import DeadEnd
from models.db import make_engine

GONE_STATUSES = (404, 410)  # the server says the page is not there: dead at once


def load_dead_ends(database_url: str) -> dict[str, DeadEnd]:
    """Every remembered URL -> its row (detached: read once when the crawl opens)."""
    engine = make_engine(database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            rows = {row.url: row for row in session.scalars(select(DeadEnd))}
            session.expunge_all()
            return rows
    finally:
        engine.dispose()


def record_dead_ends(database_url: str, failed: dict[str, tuple[str, str]], answered: set[str],
                     known: dict[str, DeadEnd], period: dt.timedelta, failures_to_die: int) -> int:
    """Writes one run's findings in one transaction: URLs that answered are forgotten;
    each failed URL counts one more failure, and is dead for ``period`` once gone (404/410)
    or failed ``failures_to_die`` runs in a row. Returns how many URLs became dead ends."""
    now = dt.datetime.now(dt.timezone.utc)
    gone_reasons = {f"http_{status}" for status in GONE_STATUSES}
    engine = make_engine(database_url)
    dead = 0
    try:
        with Session(engine) as session, session.begin():
            if answered:
                session.execute(delete(DeadEnd).where(DeadEnd.url.in_(sorted(answered))))
            for url, (site, reason) in failed.items():
                row = session.get(DeadEnd, url)
                if row is None:
                    row = DeadEnd(url=url, site=site, failures=0, first_failed_at=now)
                    session.add(row)
                row.reason = reason
                row.failures = (row.failures or 0) + 1
                row.last_failed_at = now
                if reason in gone_reasons or row.failures >= failures_to_die:
                    row.dead_until = now + period
                    dead += url not in known or known[url].dead_until is None
    finally:
        engine.dispose()
    return dead
