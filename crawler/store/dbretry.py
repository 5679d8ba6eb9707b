"""A lost database connection, retried with backoff for a bounded time.

A PostgreSQL restart, a failover or a killed backend fails the transaction in
flight; the engine's pool (pool_pre_ping) connects again on the next try. An
article's save is one transaction, so trying it again is safe. After
NEWSCRAWL_DB_RETRY_SECONDS without success the run stops as failed, with one
line that says so.
"""
from __future__ import annotations

import functools
import logging
import time

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

logger = logging.getLogger(__name__)

FIRST_DELAY = 0.5
MAX_DELAY = 10.0


class DatabaseLostError(RuntimeError):
    """The database stayed unreachable for longer than the retry budget."""


def _detail(exc: BaseException) -> str:
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]


def is_connection_loss(exc: BaseException) -> bool:
    """A failure of the connection (not of our SQL): worth trying again on a new one."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (OperationalError, InterfaceError))


def retrying(fn, seconds: float, sleep=time.sleep, clock=time.monotonic):
    """``fn`` retried on connection loss with exponential backoff, for at most ``seconds``."""

    @functools.wraps(fn)
    def call(*args, **kwargs):
        deadline = clock() + seconds
        delay = FIRST_DELAY
        while True:
            try:
                return fn(*args, **kwargs)
            except (OperationalError, InterfaceError, DBAPIError) as exc:
                if not is_connection_loss(exc):
                    raise
                if clock() + delay > deadline:
                    raise DatabaseLostError(f"the database stayed unreachable for {seconds:.0f} s: {_detail(exc)}") from exc
                logger.warning("Database connection lost (%s); trying again in %.1f s", _detail(exc), delay)
                sleep(delay)
                delay = min(delay * 2, MAX_DELAY)

    return call
