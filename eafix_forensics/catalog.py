"""The incident library: every evidence bundle summarized in one SQL catalog.

SQLite at ``output/catalog.db`` by default; PostgreSQL when ``[catalog] url =
"postgresql+psycopg://…"`` is set, so a team shares one library (the password
comes from the variable named by ``[catalog] password_env``)::

    catalog = Catalog.open()                 # or Catalog.open("postgresql+psycopg://…")
    print(catalog.index("output"))           # added / refreshed / unchanged / refused
    similar(bundle, catalog)                 # past incidents like this one, best first
    catalog.response_times()                 # time to acknowledge/resolve by severity, month

Indexing is idempotent: a bundle whose manifest sha256 is already in the
catalog is left alone, a changed one is re-indexed, one that fails ``verify``
is refused by name. Each bundle is written in one transaction under a lock
(``BEGIN IMMEDIATE`` on SQLite, a transaction-scoped advisory lock on
PostgreSQL) with an upsert on the incident id, so two ``index`` processes on
the same catalog finish without errors or duplicate rows.

The schema is versioned (``catalog_meta.schema_version``); opening a catalog of
the previous version upgrades it in place, keeping every row. Rows indexed by
an older version are refreshed the next time their bundle is indexed.

Tables (version 2)::

    catalog_meta          key, value                       (schema_version)
    incidents             one row per incident id: window, severity (recorded and
                          suggested), services, milestones, key times, bundle path
                          and manifest sha256, signature_weight, service_count
    incident_signatures   incident_pk, signature, signature_key, count, weight, …
    incident_services     incident_pk, service
    incident_suspects     incident_pk, rank, ref, service, reason
    action_items          incident_pk, position, text, owner, status
    incident_sla          incident_pk, sla, target_s, actual_s, met, clock, detail

Database errors are translated here, in :meth:`Catalog._db`, and nowhere else.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import pandas as pd

from .analysis import trends
from .analysis.incident import incident_from_bundle
from .analysis.logs import error_signatures
from .analysis.trends import IncidentSummary
from .bundle import EvidenceBundle
from .catalog_schema import ADDED_IN_V2, CHILD_TABLES, SCHEMA_LOCK, SCHEMA_VERSION, sql_tables
from .config import Config, output_root
from .errors import BundleError, ConfigError, ForensicsError, QueryError, SourceUnavailable
from .model.times import to_utc

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["SCHEMA_VERSION", "Catalog", "IndexResult", "similar"]

DEFAULT_LIMIT = 10
DEFAULT_MIN_SCORE = 0.2  # below this only some services are shared, no errors: not "seen before"
_TEXT = pd.StringDtype(na_value=np.nan)
_UTC = "datetime64[ns, UTC]"

@dataclass
class IndexResult:
    """What one :meth:`Catalog.index` run did: incident ids added, refreshed (their
    bundle changed, or was indexed by an older version), unchanged, and the bundles
    refused as ``(bundle path, reason)``."""

    catalog: str
    added: list[str] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [
            (f"{self.catalog}: {len(self.added)} added, {len(self.refreshed)} refreshed, "
             f"{len(self.unchanged)} unchanged, {len(self.refused)} refused")
        ]
        for label, ids in (("added", self.added), ("refreshed", self.refreshed), ("unchanged", self.unchanged)):
            if ids:
                lines.append(f"  {label}: {', '.join(ids)}")
        for path, reason in self.refused:
            lines.append(f"  refused: {path}: {reason}")
        return "\n".join(lines)


def _utc(value: Any) -> Any:
    """A UTC datetime for the database (None for missing)."""
    t = to_utc(value)
    return None if t is None else t.to_pydatetime()


def _lock_key(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big", signed=True)


def _find_bundles(path: Path) -> list[Path]:
    if (path / "manifest.json").is_file():
        return [path]
    if (path / "evidence" / "manifest.json").is_file():
        return [path / "evidence"]
    found = []
    for mf in sorted(path.rglob("manifest.json")):
        # Half-written or replaced bundles (bundle.py's temporary directories) are not evidence.
        if any(part.startswith(".evidence-") for part in mf.parent.relative_to(path).parts):
            continue
        found.append(mf.parent)
    return found


class Catalog:
    """An open incident catalog; see the module docstring. Use :meth:`open`."""

    def __init__(self, engine: sa.Engine, *, display_url: str) -> None:
        self.engine = engine
        self.url = display_url
        _, self._t = sql_tables()
        self._ensure_schema()

    def __repr__(self) -> str:
        return f"Catalog({self.url!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        url: str | os.PathLike[str] | None = None,
        *,
        config: Config | str | os.PathLike[str] | None = None,
        output_dir: str | os.PathLike[str] | None = None,
    ) -> Catalog:
        """Open (creating or upgrading as needed) the catalog at ``url``.

        ``url``: a SQLAlchemy URL (``sqlite:///path.db``, ``postgresql+psycopg://…``)
        or a plain file path (SQLite). Default: ``[catalog] url`` of ``config`` (a
        Config or an eafix.toml path; default ``Config.load()``), else SQLite at
        ``<output_dir>/catalog.db`` with ``output_dir`` defaulting to
        :func:`~eafix_forensics.config.output_root`. Raises ConfigError for
        an unsupported URL or a catalog newer than this tool, SourceUnavailable
        when the database cannot be reached.
        """
        # deferred: sqlalchemy costs ~0.23 s to import
        import sqlalchemy as sa
        from sqlalchemy.engine import make_url


        cfg = config if isinstance(config, Config) else Config.load(config)
        raw = str(url) if url else cfg.catalog.url
        if not raw:
            raw = str(output_root(output_dir, cfg, source_tree=True)) + "/catalog.db"
        if "://" not in raw:
            db = Path(raw).expanduser()
            db.parent.mkdir(parents=True, exist_ok=True)
            raw = f"sqlite:///{db}"
        try:
            parsed = make_url(raw)
        except (sa.exc.ArgumentError, ValueError) as exc:
            raise ConfigError(f"catalog url {raw!r}: not a database URL ({exc})") from None
        backend = parsed.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise ConfigError(
                f"catalog url {parsed.render_as_string(hide_password=True)!r}: unsupported database "
                f"{backend!r}; use sqlite:///path/catalog.db or postgresql+psycopg://user@host/db"
            )
        if backend == "postgresql":
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            secret = cfg.secret(cfg.catalog.password_env)
            if secret and not parsed.password:
                parsed = parsed.set(password=secret)
            engine = sa.create_engine(parsed, pool_pre_ping=True,
                                      connect_args={"connect_timeout": int(max(cfg.catalog.connect_timeout_s, 1))})
        else:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(parsed, connect_args={"timeout": cfg.catalog.busy_timeout_s})
            _sqlite_transactions(engine, busy_timeout_s=cfg.catalog.busy_timeout_s)
        return cls(engine, display_url=parsed.render_as_string(hide_password=True))

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return str(self.engine.dialect.name)

    @contextmanager
    def _db(self, what: str) -> Iterator[None]:
        """The one place database errors become ours."""
        # deferred: sqlalchemy costs ~0.23 s to import
        import sqlalchemy as sa

        try:
            yield
        except ForensicsError:
            raise
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            orig = " ".join(str(getattr(exc, "orig", None) or exc).split())
            if "locked" in orig or "busy" in orig:
                raise QueryError(f"catalog {self.url}: {what}: database stayed locked ({orig})") from exc
            raise SourceUnavailable(f"catalog {self.url}: {what}: {orig}") from exc
        except sa.exc.DBAPIError as exc:
            orig = " ".join(str(getattr(exc, "orig", None) or exc).split())
            raise QueryError(f"catalog {self.url}: {what}: {orig}", query=str(exc.statement)) from exc
        except sa.exc.SQLAlchemyError as exc:
            raise QueryError(f"catalog {self.url}: {what}: {exc}") from exc

    @contextmanager
    def _write(self, lock: int | None) -> Iterator[sa.Connection]:
        """A write transaction holding advisory ``lock`` (SQLite: the database write lock)."""
        # deferred: sqlalchemy costs ~0.23 s to import
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            conn = conn.execution_options(eafix_write=True)
            with conn.begin():
                if self.backend == "postgresql" and lock is not None:
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock})
                yield conn

    # ------------------------------------------------------------------ schema
    def schema_version(self) -> int:
        """The schema version stored in the catalog."""
        # deferred: sqlalchemy costs ~0.23 s to import
        import sqlalchemy as sa

        with self._db("read schema version"), self.engine.connect() as conn:
            v = conn.execute(sa.select(self._t["catalog_meta"].c.value).where(
                self._t["catalog_meta"].c.key == "schema_version")).scalar()
        return int(v) if v is not None else 0

    def _ensure_schema(self) -> None:
        # deferred: sqlalchemy costs ~0.23 s to import
        import sqlalchemy as sa

        md, t = sql_tables()
        with self._db("create or upgrade the schema"), self._write(SCHEMA_LOCK) as conn:
            names = set(sa.inspect(conn).get_table_names())
            if "catalog_meta" not in names:
                if "incidents" in names:
                    raise ConfigError(f"catalog {self.url}: has an incidents table but no catalog_meta; "
                                      "not an eafix-forensics catalog")
                md.create_all(conn)
                conn.execute(sa.insert(t["catalog_meta"]).values(key="schema_version", value=str(SCHEMA_VERSION)))
                return
            raw = conn.execute(sa.select(t["catalog_meta"].c.value).where(
                t["catalog_meta"].c.key == "schema_version")).scalar()
            version = int(raw) if raw is not None else 0
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"catalog {self.url}: schema version {version} is newer than this eafix-forensics "
                    f"(version {SCHEMA_VERSION}); upgrade the tool"
                )
            if version < 1:
                raise ConfigError(f"catalog {self.url}: unknown schema version {raw!r}")
            if version == 1:
                self._upgrade_v1(conn, md, t)

    def _upgrade_v1(self, conn: sa.Connection, md: sa.MetaData, t: dict[str, sa.Table]) -> None:
        """Version 1 → 2 in place: new columns, new tables, backfilled weights and services."""
        # deferred: sqlalchemy costs ~0.23 s to import
        import sqlalchemy as sa

        existing = {name: {c["name"] for c in sa.inspect(conn).get_columns(name)}
                    for name in ADDED_IN_V2 if sa.inspect(conn).has_table(name)}
        prep = self.engine.dialect.identifier_preparer
        for table, columns in ADDED_IN_V2.items():
            for name in columns:
                if name in existing.get(table, set()):
                    continue
                col = t[table].c[name]
                ddl = col.type.compile(dialect=self.engine.dialect)
                conn.execute(sa.text(
                    f"ALTER TABLE {prep.quote(table)} ADD COLUMN {prep.quote(name)} {ddl}"))
        md.create_all(conn, checkfirst=True)  # the new tables and indexes
        for index in md.sorted_tables:
            for ix in index.indexes:
                ix.create(conn, checkfirst=True)

        sig, inc = t["incident_signatures"], t["incidents"]
        rows = conn.execute(sa.select(sig.c.incident_pk, sig.c.signature, sig.c["count"])).all()
        totals: dict[int, float] = {}
        for pk, text, count in rows:
            w = trends.signature_weight(count)
            totals[pk] = totals.get(pk, 0.0) + w
            conn.execute(sa.update(sig).where(sig.c.incident_pk == pk, sig.c.signature == text).values(
                signature_key=trends.signature_key(text), weight=w))
        for pk, services in conn.execute(sa.select(inc.c.id, inc.c.services)).all():
            names = sorted({s.strip() for s in (services or "").split(",") if s.strip()})
            if names:
                conn.execute(sa.insert(t["incident_services"]), [{"incident_pk": pk, "service": s} for s in names])
            # indexed_version 1: the next index run refreshes this row with everything v2 keeps.
            conn.execute(sa.update(inc).where(inc.c.id == pk).values(
                signature_weight=totals.get(pk, 0.0), service_count=len(names), indexed_version=1))
        if self.backend == "postgresql":
            # Rows copied in with explicit ids (a restored dump) leave the sequence behind them.
            conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('incidents', 'id'), "
                                 "GREATEST((SELECT max(id) FROM incidents), 1))"))
        conn.execute(sa.update(t["catalog_meta"]).where(t["catalog_meta"].c.key == "schema_version").values(
            value=str(SCHEMA_VERSION)))

    # ------------------------------------------------------------------ indexing
    def index(self, path: str | os.PathLike[str] | None = None) -> IndexResult:
        """Add or refresh every evidence bundle under ``path`` (default: the output directory).

        ``path`` may be one bundle directory, an incident directory or a tree of them.
        Returns an :class:`IndexResult`; a bundle that cannot be opened, fails
        ``verify`` or whose analysis fails is refused with its path and the reason,
        and the others are still indexed. Raises ConfigError when ``path`` does not exist.
        """
        root = Path(path) if path is not None else output_root(source_tree=True)
        if not root.exists():
            raise ConfigError(f"index {root}: no such directory")
        result = IndexResult(self.url)
        for bundle_path in _find_bundles(root):
            try:
                bundle = EvidenceBundle.open(bundle_path)
                problems = bundle.verify()
            except BundleError as exc:
                result.refused.append((str(bundle_path), str(exc)))
                continue
            name = f"{bundle.incident_id or '?'}"
            if problems:
                result.refused.append((str(bundle_path), f"{name} fails verify: {'; '.join(problems)}"))
                continue
            if self._current(bundle.incident_id, bundle.manifest_sha256):
                result.unchanged.append(bundle.incident_id)
                continue
            try:
                summary = trends.summarize(bundle)
            except Exception as exc:  # noqa: BLE001 - one bundle's broken analysis must not stop the others
                result.refused.append((str(bundle_path), f"{name}: analysis failed: {type(exc).__name__}: {exc}"))
                continue
            outcome = self.put(summary)
            getattr(result, outcome).append(bundle.incident_id)
        return result

    def _current(self, incident_id: str, sha256: str) -> bool:
        # deferred: sqlalchemy costs ~0.23 s to import
        import sqlalchemy as sa

        inc = self._t["incidents"]
        with self._db(f"look up {incident_id}"), self.engine.connect() as conn:
            row = conn.execute(sa.select(inc.c.manifest_sha256, inc.c.indexed_version).where(
                inc.c.incident_id == incident_id)).first()
        return bool(row and row[0] == sha256 and row[1] == SCHEMA_VERSION)

    def put(self, summary: IncidentSummary) -> str:
        """Store one summary: ``added``, ``refreshed`` or ``unchanged`` (same manifest
        sha256 already indexed by this version). One transaction, under a per-incident
        lock, so concurrent writers of the same incident never duplicate rows."""
        with self._db(f"index {summary.incident_id}"), self._write(_lock_key(summary.incident_id)) as conn:
            return self._put(conn, summary)

    def put_many(self, summaries: Iterable[IncidentSummary], *, batch: int = 500) -> list[str]:
        """:meth:`put` for many summaries, ``batch`` per transaction (a bulk load);
        returns each one's outcome in order."""
        # deferred: sqlalchemy costs ~0.23 s to import
        import sqlalchemy as sa

        items = list(summaries)
        out: list[str] = []
        for i in range(0, len(items), batch):
            chunk = items[i:i + batch]
            with self._db(f"index {len(chunk)} incidents"), self._write(None) as conn:
                if self.backend == "postgresql":
                    # The same per-incident locks as put(), taken in one order: no deadlock.
                    for key in sorted({_lock_key(s.incident_id) for s in chunk}):
                        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
                out.extend(self._put(conn, s) for s in chunk)
        return out

    def _put(self, conn: sa.Connection, summary: IncidentSummary) -> str:
        # deferred: sqlalchemy costs ~0.23 s to import
        import sqlalchemy as sa

        t = self._t
        inc = t["incidents"]
        row = conn.execute(sa.select(inc.c.manifest_sha256, inc.c.indexed_version).where(
            inc.c.incident_id == summary.incident_id)).first()
        if row and row[0] == summary.manifest_sha256 and row[1] == SCHEMA_VERSION:
            return "unchanged"
        values = self._incident_values(summary)
        stmt = self._insert(inc).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[inc.c.incident_id],
            set_={k: stmt.excluded[k] for k in values if k != "incident_id"},
        ).returning(inc.c.id)
        pk = conn.execute(stmt).scalar_one()
        if row:
            for name in CHILD_TABLES:
                conn.execute(sa.delete(t[name]).where(t[name].c.incident_pk == pk))
        for name, rows in self._child_rows(summary, pk).items():
            if rows:
                conn.execute(sa.insert(t[name]), rows)
        return "refreshed" if row else "added"

    def _insert(self, table: sa.Table) -> Any:
        if self.backend == "postgresql":
            # deferred: sqlalchemy costs ~0.23 s to import
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table)
        # deferred: sqlalchemy costs ~0.23 s to import
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)

    @staticmethod
    def _incident_values(s: IncidentSummary) -> dict[str, Any]:
        return {
            "incident_id": s.incident_id,
            "title": s.title,
            "severity": s.severity,
            "services": ",".join(s.services),
            "window_start": _utc(s.window_start),
            "window_end": _utc(s.window_end),
            "triggered_at": _utc(s.triggered_at),
            "acknowledged_at": _utc(s.acknowledged_at),
            "resolved_at": _utc(s.resolved_at),
            "bundle_path": s.bundle_path,
            "manifest_sha256": s.manifest_sha256,
            "indexed_at": _utc(pd.Timestamp.now(tz="UTC")),
            "suggested_severity": s.suggested_severity,
            "severity_reasons": json.dumps(s.severity_reasons),
            "status": s.status,
            "responded_at": _utc(s.responded_at),
            "first_symptom_at": _utc(s.first_symptom_at),
            "mitigated_at": _utc(s.mitigated_at),
            "key_times": json.dumps(s.key_times, default=str),
            "collected_at": _utc(s.collected_at),
            "signature_weight": float(sum(s.signature_weights.values())),
            "service_count": len(set(s.services)),
            "indexed_version": SCHEMA_VERSION,
        }

    @staticmethod
    def _child_rows(s: IncidentSummary, pk: int) -> dict[str, list[dict[str, Any]]]:
        return {
            "incident_signatures": [
                {"incident_pk": pk, "signature": r["signature"], "count": int(r["count"]),
                 "signature_key": trends.signature_key(r["signature"]),
                 "weight": trends.signature_weight(r["count"]), "first_seen": _utc(r.get("first_seen")),
                 "last_seen": _utc(r.get("last_seen")), "services": r.get("services") or ""}
                for r in s.signatures
            ],
            "incident_services": [{"incident_pk": pk, "service": svc} for svc in sorted(set(s.services))],
            "incident_suspects": [
                {"incident_pk": pk, "rank": int(r["rank"]), "ref": r.get("ref"), "service": r.get("service"),
                 "reason": r.get("reason") or ""}
                for r in s.suspects
            ],
            "action_items": [
                {"incident_pk": pk, "position": int(r["position"]), "text": r["text"], "owner": r.get("owner"),
                 "status": r.get("status")}
                for r in s.action_items
            ],
            "incident_sla": [
                {"incident_pk": pk, "sla": r["sla"], "target_s": r.get("target_s"), "actual_s": r.get("actual_s"),
                 "met": r.get("met"), "clock": r.get("clock"), "detail": r.get("detail")}
                for r in s.sla
            ],
        }

    # ------------------------------------------------------------------ reading
    def _frame(self, stmt: Any, what: str, *, times: Iterable[str] = (), text: Iterable[str] = (),
               ints: Iterable[str] = ()) -> pd.DataFrame:
        with self._db(what), self.engine.connect() as conn:
            result = conn.execute(stmt)
            df = pd.DataFrame(result.all(), columns=list(result.keys()))
        for c in times:
            df[c] = pd.to_datetime(df[c], utc=True).astype(_UTC) if len(df) else pd.Series([], dtype=_UTC)
        for c in text:
            df[c] = df[c].astype(object).where(df[c].notna(), None).astype(_TEXT)
        for c in ints:
            df[c] = pd.to_numeric(df[c]).astype("Int64")
        return df

    _INCIDENT_TIMES = ("window_start", "window_end", "triggered_at", "acknowledged_at", "responded_at",
                       "resolved_at", "first_symptom_at", "mitigated_at", "collected_at", "indexed_at")
    _INCIDENT_TEXT = ("incident_id", "title", "severity", "suggested_severity", "status", "services",
                      "bundle_path", "manifest_sha256")

    def incidents(self) -> pd.DataFrame:
        """One row per indexed incident, oldest first: incident_id, title, severity,
        suggested_severity, status, services (comma-separated), window_start, window_end,
        triggered_at, acknowledged_at, responded_at, resolved_at, first_symptom_at,
        mitigated_at (UTC), bundle_path, manifest_sha256, collected_at, indexed_at."""
        # deferred: sqlalchemy costs ~0.23 s to import
        import sqlalchemy as sa

        inc = self._t["incidents"]
        cols = [inc.c[c] for c in ("incident_id", "title", "severity", "suggested_severity", "status", "services",
                                   "window_start", "window_end", "triggered_at", "acknowledged_at",
                                   "responded_at", "resolved_at", "first_symptom_at", "mitigated_at",
                                   "bundle_path", "manifest_sha256", "collected_at", "indexed_at")]
        stmt = sa.select(*cols).order_by(sa.func.coalesce(inc.c.triggered_at, inc.c.window_start), inc.c.incident_id)
        return self._frame(stmt, "read incidents", times=self._INCIDENT_TIMES, text=self._INCIDENT_TEXT)

    def _joined(self, child: str, columns: Iterable[str], what: str, order: Iterable[str], **types: Any) -> pd.DataFrame:
        # deferred: sqlalchemy costs ~0.23 s to import
        import sqlalchemy as sa

        inc, t = self._t["incidents"], self._t[child]
        stmt = sa.select(inc.c.incident_id, inc.c.severity, inc.c.triggered_at, inc.c.window_start,
                         *[t.c[c] for c in columns]).join(inc, inc.c.id == t.c.incident_pk).order_by(
            sa.func.coalesce(inc.c.triggered_at, inc.c.window_start), inc.c.incident_id, *[t.c[c] for c in order])
        times = ("triggered_at", "window_start", *types.pop("times", ()))
        text = ("incident_id", "severity", *types.pop("text", ()))
        return self._frame(stmt, what, times=times, text=text, **types)

    def signatures(self) -> pd.DataFrame:
        """One row per incident and error signature: incident_id, severity, triggered_at,
        window_start, signature, count, weight, first_seen, last_seen, services."""
        return self._joined("incident_signatures", ("signature", "count", "weight", "first_seen", "last_seen",
                                                    "services"), "read signatures", ("signature",),
                            times=("first_seen", "last_seen"), text=("signature", "services"), ints=("count",))

    def sla(self) -> pd.DataFrame:
        """One row per incident and SLA: incident_id, severity, triggered_at, window_start,
        sla, target_s, actual_s, met (True/False, <NA> when not measured), clock, detail."""
        df = self._joined("incident_sla", ("sla", "target_s", "actual_s", "met", "clock", "detail"),
                          "read SLA results", ("sla",), text=("sla", "clock", "detail"))
        df["met"] = df["met"].astype(object).where(df["met"].notna(), None).astype("boolean")
        return df

    def action_items(self) -> pd.DataFrame:
        """Every action item: incident_id, severity, triggered_at, window_start, position,
        text, owner, status."""
        return self._joined("action_items", ("position", "text", "owner", "status"), "read action items",
                            ("position",), text=("text", "owner", "status"), ints=("position",))

    def suspects(self) -> pd.DataFrame:
        """The stored top suspects: incident_id, severity, triggered_at, window_start,
        rank, ref, service, reason."""
        return self._joined("incident_suspects", ("rank", "ref", "service", "reason"), "read suspects",
                            ("rank",), text=("ref", "service", "reason"), ints=("rank",))

    # ------------------------------------------------------------------ metrics
    def response_times(self) -> pd.DataFrame:
        """:func:`~eafix_forensics.analysis.trends.response_times` over every incident."""
        return trends.response_times(self.incidents())

    def sla_compliance(self) -> pd.DataFrame:
        """:func:`~eafix_forensics.analysis.trends.sla_compliance` over every incident."""
        return trends.sla_compliance(self.sla())

    def recurring_signatures(self, *, min_incidents: int = 2) -> pd.DataFrame:
        """:func:`~eafix_forensics.analysis.trends.recurring_signatures` over every incident."""
        return trends.recurring_signatures(self.signatures(), min_incidents=min_incidents)

    def open_action_items(self) -> pd.DataFrame:
        """:func:`~eafix_forensics.analysis.trends.open_action_items` over every incident."""
        return trends.open_action_items(self.action_items())

    # ------------------------------------------------------------------ similar
    def similar_to(self, incident_id: str, *, limit: int = DEFAULT_LIMIT,
                   min_score: float = DEFAULT_MIN_SCORE) -> pd.DataFrame:
        """:func:`similar` for an incident already in the catalog (empty when it is not)."""
        # deferred: sqlalchemy costs ~0.23 s to import
        import sqlalchemy as sa

        t = self._t
        inc, sig, svc = t["incidents"], t["incident_signatures"], t["incident_services"]
        with self._db(f"read {incident_id}"), self.engine.connect() as conn:
            pk = conn.execute(sa.select(inc.c.id).where(inc.c.incident_id == incident_id)).scalar()
            if pk is None:
                return self._similar({}, [], exclude=incident_id, limit=0, min_score=min_score)
            weights = {k: float(w) for k, w in conn.execute(
                sa.select(sig.c.signature_key, sig.c.weight).where(sig.c.incident_pk == pk))}
            services = list(conn.execute(sa.select(svc.c.service).where(svc.c.incident_pk == pk)).scalars())
        return self._similar(weights, services, exclude=incident_id, limit=limit, min_score=min_score)

    _SIMILAR_COLUMNS = ("rank", "incident_id", "score", "signature_score", "service_score", "title", "severity",
                        "triggered_at", "resolved_at", "shared_services", "shared_signatures", "root_causes",
                        "action_items", "bundle_path")

    def _similar(self, weights: Mapping[str, float], services: Iterable[str], *, exclude: str | None,
                 limit: int, min_score: float) -> pd.DataFrame:
        # deferred: sqlalchemy costs ~0.23 s to import
        import sqlalchemy as sa

        t = self._t
        inc, sig, svc = t["incidents"], t["incident_signatures"], t["incident_services"]
        services = sorted(set(services))
        shared_sigs: list[tuple[int, str, float]] = []
        shared_svcs: dict[int, int] = {}
        totals: dict[int, tuple[float, int]] = {}
        with self._db("find similar incidents"), self.engine.connect() as conn:
            if weights and limit > 0:
                for pk, key, w, total, n in conn.execute(
                    sa.select(sig.c.incident_pk, sig.c.signature_key, sig.c.weight, inc.c.signature_weight,
                              inc.c.service_count).join(inc, inc.c.id == sig.c.incident_pk)
                    .where(sig.c.signature_key.in_(list(weights)))
                ):
                    shared_sigs.append((pk, key, float(w or 0.0)))
                    totals[pk] = (float(total or 0.0), int(n or 0))
            if services and limit > 0:
                for pk, shared, total, n in conn.execute(
                    sa.select(svc.c.incident_pk, sa.func.count(), inc.c.signature_weight, inc.c.service_count)
                    .join(inc, inc.c.id == svc.c.incident_pk).where(svc.c.service.in_(services))
                    .group_by(svc.c.incident_pk, inc.c.signature_weight, inc.c.service_count)
                ):
                    shared_svcs[pk] = int(shared)
                    totals[pk] = (float(total or 0.0), int(n or 0))
            ranked = trends.score_candidates(weights, services, shared_sigs, shared_svcs, totals)
            excluded = set()
            if exclude:
                excluded = set(conn.execute(sa.select(inc.c.id).where(inc.c.incident_id == exclude)).scalars())
            top = [r for r in ranked if r[1] >= min_score and r[0] not in excluded][:limit]
            pks = [r[0] for r in top]
            details = self._details(conn, pks, weights, services) if pks else {}
        rows = []
        for rank, (pk, score, s_sig, s_svc) in enumerate(top, start=1):
            d = details[pk]
            rows.append({"rank": rank, "score": round(score, 4), "signature_score": round(s_sig, 4),
                         "service_score": round(s_svc, 4), **d})
        df = pd.DataFrame(rows, columns=list(self._SIMILAR_COLUMNS))
        df["rank"] = df["rank"].astype("Int64")
        for c in ("score", "signature_score", "service_score"):
            df[c] = df[c].astype("float64")
        for c in ("triggered_at", "resolved_at"):
            df[c] = pd.to_datetime(df[c], utc=True).astype(_UTC)
        for c in ("incident_id", "title", "severity", "shared_services", "shared_signatures", "root_causes",
                  "action_items", "bundle_path"):
            df[c] = df[c].astype(object).where(df[c].notna(), None).astype(_TEXT)
        return df

    def _details(self, conn: sa.Connection, pks: list[int], weights: Mapping[str, float],
                 services: list[str]) -> dict[int, dict[str, Any]]:
        # deferred: sqlalchemy costs ~0.23 s to import
        import sqlalchemy as sa

        t = self._t
        inc, sig, svc = t["incidents"], t["incident_signatures"], t["incident_services"]
        out: dict[int, dict[str, Any]] = {}
        for r in conn.execute(sa.select(inc.c.id, inc.c.incident_id, inc.c.title, inc.c.severity,
                                        inc.c.triggered_at, inc.c.resolved_at, inc.c.bundle_path)
                              .where(inc.c.id.in_(pks))):
            out[r.id] = {"incident_id": r.incident_id, "title": r.title, "severity": r.severity,
                         "triggered_at": r.triggered_at, "resolved_at": r.resolved_at,
                         "bundle_path": r.bundle_path, "shared_services": [], "shared_signatures": [],
                         "root_causes": [], "action_items": []}
        for pk, text in conn.execute(sa.select(sig.c.incident_pk, sig.c.signature).where(
                sig.c.incident_pk.in_(pks), sig.c.signature_key.in_(list(weights) or [""]))
                .order_by(sig.c.incident_pk, sig.c["count"].desc(), sig.c.signature)):
            out[pk]["shared_signatures"].append(text)
        for pk, name in conn.execute(sa.select(svc.c.incident_pk, svc.c.service).where(
                svc.c.incident_pk.in_(pks), svc.c.service.in_(services or [""])).order_by(svc.c.service)):
            out[pk]["shared_services"].append(name)
        sus = t["incident_suspects"]
        for r in conn.execute(sa.select(sus).where(sus.c.incident_pk.in_(pks)).order_by(sus.c.incident_pk, sus.c.rank)):
            ref = f" ({r.ref[:12]})" if r.ref else ""
            out[r.incident_pk]["root_causes"].append(f"{r.rank}. {r.reason}{ref}")
        act = t["action_items"]
        for r in conn.execute(sa.select(act).where(act.c.incident_pk.in_(pks)).order_by(act.c.incident_pk, act.c.position)):
            status = f" [{r.status}]" if r.status else ""
            owner = f" ({r.owner})" if r.owner else ""
            out[r.incident_pk]["action_items"].append(f"{r.text}{owner}{status}")
        for d in out.values():
            for k in ("shared_services", "shared_signatures"):
                d[k] = ", ".join(d[k])
            for k in ("root_causes", "action_items"):
                d[k] = "; ".join(d[k])
        return out


def _sqlite_transactions(engine: sa.Engine, *, busy_timeout_s: float) -> None:
    """Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.

    pysqlite otherwise defers BEGIN until the first write, so a read-then-write
    transaction can race another process; write transactions here start with
    BEGIN IMMEDIATE (the database write lock, waited for up to the busy timeout).
    """
    # deferred: sqlalchemy costs ~0.23 s to import
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        # WAL: readers never wait for the writer; NORMAL sync is durable enough for an index.
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("eafix_write") else "BEGIN")


def _profile(bundle: EvidenceBundle | IncidentSummary) -> tuple[str, dict[str, float], list[str]]:
    """(incident id, signature key → weight, affected services) of a bundle, cheaply."""
    if isinstance(bundle, IncidentSummary):
        return bundle.incident_id, bundle.signature_weights, list(bundle.services)

    rows = []
    if bundle.has("logs"):
        rows = trends.signature_rows(error_signatures(bundle.table("logs")))
    weights = {trends.signature_key(r["signature"]): trends.signature_weight(r["count"]) for r in rows}
    services: list[str] = []
    if bundle.has("incident"):
        services = list(incident_from_bundle(bundle).services)
    if not services:
        services = sorted({s for r in rows for s in r["services"].split(",") if s})
    return bundle.incident_id, weights, services


def similar(
    bundle: EvidenceBundle | IncidentSummary | str | os.PathLike[str],
    catalog: Catalog | str | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    min_score: float = DEFAULT_MIN_SCORE,
) -> pd.DataFrame:
    """Past incidents in ``catalog`` like ``bundle``, best first (the bundle's own
    incident id excluded).

    Score (see :func:`~eafix_forensics.analysis.trends.similarity`): 0.7 × the
    weighted Jaccard index of the error signatures (weights ``log2(1 + count)``)
    + 0.3 × the Jaccard index of the affected services. Incidents scoring below
    ``min_score`` (default 0.2: below it, incidents share part of their services and no
    error at all) are left out.

    Columns: rank, incident_id, score, signature_score, service_score, title,
    severity, triggered_at, resolved_at, shared_services, shared_signatures,
    root_causes (that incident's top suspects, "; "-separated), action_items
    (with owner and status), bundle_path. ``catalog`` defaults to :meth:`Catalog.open`.
    """
    if isinstance(bundle, (str, os.PathLike)):
        bundle = EvidenceBundle.open(bundle)
    owned = not isinstance(catalog, Catalog)
    cat = catalog if isinstance(catalog, Catalog) else Catalog.open(catalog)
    try:
        incident_id, weights, services = _profile(bundle)
        return cat._similar(weights, services, exclude=incident_id, limit=limit, min_score=min_score)
    finally:
        if owned:
            cat.close()
