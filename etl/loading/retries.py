"""How long a load keeps trying when the database interrupts it, and the connection it retries
on."""

from __future__ import annotations

import logging

import psycopg
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from etl.database import connect, describe_error, is_transient

log = logging.getLogger(__name__)

# A file whose load the database interrupted (connection lost, server restarting, deadlock) is
# loaded again from the start, its transaction having rolled back, up to LOAD_ATTEMPTS times
# within LOAD_RETRY_SECONDS (each new connection may itself wait CONNECT_RETRY_SECONDS). A
# connection still lost after that stops the run, rather than failing every remaining file.
LOAD_ATTEMPTS = 5
LOAD_RETRY_SECONDS = 60


class DatabaseUnavailable(RuntimeError):
    """The database stayed out of reach beyond the retry bound: the run stops, the next resumes."""


def reconnected(conn: psycopg.Connection | None, url: str) -> psycopg.Connection:
    """`conn`, or a new connection when it was lost (a load that failed rolled back anyway)."""
    if conn is not None and not (conn.closed or conn.broken):
        return conn
    if conn is not None:
        conn.close()
    return connect(url)


def retrying(what: str) -> Retrying:
    """Attempts at `what`, again after a transient database error, within the bound."""

    def log_retry(state: RetryCallState) -> None:
        log.warning(
            "%s: %s; trying again in %.1f s (attempt %d of %d)",
            what,
            describe_error(state.outcome.exception()),
            state.next_action.sleep,
            state.attempt_number + 1,
            LOAD_ATTEMPTS,
        )

    return Retrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(LOAD_ATTEMPTS) | stop_after_delay(LOAD_RETRY_SECONDS),
        wait=wait_exponential_jitter(multiplier=0.5, max=10),
        before_sleep=log_retry,
        reraise=True,
    )
