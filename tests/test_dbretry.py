"""A lost database connection is retried with backoff for a bounded time, then fails in one line."""
from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from crawler.store.dbretry import DatabaseLostError, retrying


def lost() -> OperationalError:
    return OperationalError("INSERT ...", {}, Exception("terminating connection due to administrator command"))


def test_a_lost_connection_is_retried_with_growing_delays():
    calls, sleeps = [], []

    def save():
        calls.append(1)
        if len(calls) < 4:
            raise lost()
        return "stored"

    assert retrying(save, 60, sleep=sleeps.append)() == "stored"
    assert len(calls) == 4 and sleeps == [0.5, 1.0, 2.0]


def test_the_retry_budget_is_bounded():
    sleeps = []

    def save():
        raise lost()

    def clock() -> float:
        return sum(sleeps)

    with pytest.raises(DatabaseLostError, match="unreachable for 3 s: terminating connection"):
        retrying(save, 3, sleep=sleeps.append, clock=clock)()
    assert sleeps == [0.5, 1.0] and sum(sleeps) <= 3


def test_errors_of_our_own_sql_are_not_retried():
    calls = []

    def save():
        calls.append(1)
        raise IntegrityError("INSERT ...", {}, Exception("duplicate key"))

    with pytest.raises(IntegrityError):
        retrying(save, 60, sleep=lambda s: None)()
    assert len(calls) == 1
