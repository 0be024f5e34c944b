"""PostgreSQL evidence: pg_stat_statements, pg_stat_activity, pg_locks, connections.

Read-only and safe to point at the production database in the middle of an
incident. Every connection made by :func:`postgres_engine` carries these guard
rails as startup options, so they hold before the first statement runs:

- ``default_transaction_read_only = on``: nothing the toolkit sends can write;
- ``statement_timeout`` (5 s), ``lock_timeout`` (1 s) and
  ``idle_in_transaction_session_timeout`` (10 s) from ``[postgres]``;
- ``application_name = 'eafix-forensics'`` so a DBA sees who we are;
- a connect timeout, one pooled connection (no overflow), and a ``LIMIT`` on
  every query.

The password never appears in a URL: it comes from the environment variable
named by ``[postgres] password_env`` (``EAFIX_PG_PASSWORD``) or from libpq's
``~/.pgpass``. A URL that contains a password is refused.

Errors from sqlalchemy/psycopg are translated in one place
(:func:`.engine._translate`): failing to connect (refused, timeout, authentication)
is ``SourceUnavailable`` naming host:port; a statement the server rejects
(including one cancelled by the statement timeout) is ``QueryError`` with the
server's message.

A missing ``pg_stat_statements`` extension is a ``QueryError`` whose message
gives the fix; in :func:`collect` it makes the statements tables
``unavailable`` while activity, locks and connections are still collected.
A role without ``pg_read_all_stats`` sees other roles' statements and sessions
as ``<insufficient privilege>``: those rows are kept, counted in
``frame.attrs["insufficient_privilege"]`` and named in the manifest.
"""

from __future__ import annotations

from .collector import COLLECTOR
from .engine import HIDDEN, postgres_engine
from .sessions import activity, blocked_locks, connections
from .statements import statements_delta, statements_snapshot, top_statements

__all__ = [
    "COLLECTOR",
    "HIDDEN",
    "activity",
    "blocked_locks",
    "connections",
    "postgres_engine",
    "statements_delta",
    "statements_snapshot",
    "top_statements",
]
