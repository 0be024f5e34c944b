"""The one exception tree of eafix-forensics.

Every error the toolkit raises on purpose is a ``ForensicsError``. Errors from
the libraries underneath (httpx, sqlalchemy/psycopg, subprocess, pyarrow,
papermill) are translated in exactly one place per adapter with
``raise OurError(...) from exc``::

    ForensicsError
    ├── ConfigError            bad eafix.toml, bad parameters, bad incident id or window
    ├── SourceError            a source of evidence failed
    │   ├── SourceUnavailable  it could not be reached (refused, timeout, missing binary)
    │   └── QueryError         it answered, but refused the query (bad PromQL, SQL error, 4xx)
    ├── BundleError            an evidence bundle cannot be written or read
    │   └── IntegrityError     a bundle file is missing or its sha256 differs
    └── ReportError            a notebook failed to execute or export
"""

from __future__ import annotations

__all__ = [
    "BundleError",
    "ConfigError",
    "ForensicsError",
    "IntegrityError",
    "QueryError",
    "ReportError",
    "SourceError",
    "SourceUnavailable",
]


class ForensicsError(Exception):
    """Base class of every error eafix-forensics raises on purpose."""


class ConfigError(ForensicsError):
    """Configuration, parameters, incident id or time window are invalid."""


class SourceError(ForensicsError):
    """A source of evidence failed."""


class SourceUnavailable(SourceError):
    """A source could not be reached: connection refused, timeout, missing executable."""


class QueryError(SourceError):
    """A source answered but refused the query; carries the source's own message."""

    def __init__(self, message: str, *, query: str | None = None) -> None:
        super().__init__(message)
        self.query = query


class BundleError(ForensicsError):
    """An evidence bundle cannot be written or read."""


class IntegrityError(BundleError):
    """Bundle files are missing or their sha256 differs from the manifest."""

    def __init__(self, message: str, *, files: list[str] | None = None) -> None:
        super().__init__(message)
        self.files = list(files or [])


class ReportError(ForensicsError):
    """A notebook failed to execute or to export; names the cell when one failed."""

    def __init__(
        self,
        message: str,
        *,
        cell_index: int | None = None,
        exception_name: str | None = None,
        notebook_path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.cell_index = cell_index
        self.exception_name = exception_name
        self.notebook_path = notebook_path
