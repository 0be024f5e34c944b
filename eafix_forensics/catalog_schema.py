"""The incident library's SQL tables (schema version 2) and the columns each version added.

:mod:`eafix_forensics.catalog` creates them, upgrades older catalogs in place and
takes ``SCHEMA_LOCK`` (a PostgreSQL advisory lock) while doing so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["ADDED_IN_V2", "CHILD_TABLES", "SCHEMA_LOCK", "SCHEMA_VERSION", "sql_tables"]

SCHEMA_VERSION = 2
SCHEMA_LOCK = 0x6561666978  # "eafix": the advisory lock taken while creating or upgrading the schema

# Columns each version added to the tables of the version before it (upgrade in place).
ADDED_IN_V2: dict[str, tuple[str, ...]] = {
    "incidents": (
        "suggested_severity", "severity_reasons", "status", "responded_at", "first_symptom_at",
        "mitigated_at", "key_times", "collected_at", "signature_weight", "service_count", "indexed_version",
    ),
    "incident_signatures": ("signature_key", "weight", "first_seen", "last_seen", "services"),
    "action_items": ("status",),
}


def sql_tables() -> tuple[sa.MetaData, dict[str, sa.Table]]:
    # deferred: sqlalchemy costs ~0.23 s to import
    import sqlalchemy as sa

    md = sa.MetaData()
    ts = sa.DateTime(timezone=True)

    def fk() -> sa.ForeignKey:
        return sa.ForeignKey("incidents.id", ondelete="CASCADE")

    t = {
        "catalog_meta": sa.Table(
            "catalog_meta", md,
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        ),
        "incidents": sa.Table(
            "incidents", md,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("incident_id", sa.String(128), nullable=False, unique=True),
            sa.Column("title", sa.Text),
            sa.Column("severity", sa.String(8)),
            sa.Column("services", sa.Text),
            sa.Column("window_start", ts),
            sa.Column("window_end", ts),
            sa.Column("triggered_at", ts),
            sa.Column("acknowledged_at", ts),
            sa.Column("resolved_at", ts),
            sa.Column("bundle_path", sa.Text, nullable=False),
            sa.Column("manifest_sha256", sa.String(64), nullable=False),
            sa.Column("indexed_at", ts, nullable=False),
            # version 2
            sa.Column("suggested_severity", sa.String(8)),
            sa.Column("severity_reasons", sa.Text),  # JSON list
            sa.Column("status", sa.String(16)),
            sa.Column("responded_at", ts),
            sa.Column("first_symptom_at", ts),
            sa.Column("mitigated_at", ts),
            sa.Column("key_times", sa.Text),  # JSON object
            sa.Column("collected_at", ts),
            sa.Column("signature_weight", sa.Float),
            sa.Column("service_count", sa.Integer),
            sa.Column("indexed_version", sa.Integer),
        ),
        "incident_signatures": sa.Table(
            "incident_signatures", md,
            sa.Column("incident_pk", sa.Integer, fk(), primary_key=True),
            sa.Column("signature", sa.Text, primary_key=True),
            sa.Column("count", sa.Integer, nullable=False),
            # version 2
            sa.Column("signature_key", sa.String(40)),
            sa.Column("weight", sa.Float),
            sa.Column("first_seen", ts),
            sa.Column("last_seen", ts),
            sa.Column("services", sa.Text),
        ),
        "action_items": sa.Table(
            "action_items", md,
            sa.Column("incident_pk", sa.Integer, fk(), primary_key=True),
            sa.Column("position", sa.Integer, primary_key=True),
            sa.Column("text", sa.Text, nullable=False),
            sa.Column("owner", sa.Text),
            sa.Column("status", sa.Text),  # version 2
        ),
        "incident_services": sa.Table(
            "incident_services", md,
            sa.Column("incident_pk", sa.Integer, fk(), primary_key=True),
            sa.Column("service", sa.String(128), primary_key=True),
        ),
        "incident_suspects": sa.Table(
            "incident_suspects", md,
            sa.Column("incident_pk", sa.Integer, fk(), primary_key=True),
            sa.Column("rank", sa.Integer, primary_key=True),
            sa.Column("ref", sa.Text),
            sa.Column("service", sa.Text),
            sa.Column("reason", sa.Text, nullable=False),
        ),
        "incident_sla": sa.Table(
            "incident_sla", md,
            sa.Column("incident_pk", sa.Integer, fk(), primary_key=True),
            sa.Column("sla", sa.String(32), primary_key=True),
            sa.Column("target_s", sa.Float),
            sa.Column("actual_s", sa.Float),
            sa.Column("met", sa.Boolean),
            sa.Column("clock", sa.String(32)),
            sa.Column("detail", sa.Text),
        ),
    }
    sa.Index("ix_incident_signatures_key", t["incident_signatures"].c.signature_key)
    sa.Index("ix_incident_services_service", t["incident_services"].c.service)
    sa.Index("ix_incidents_triggered_at", t["incidents"].c.triggered_at)
    return md, t


CHILD_TABLES = ("incident_signatures", "incident_services", "incident_suspects", "action_items", "incident_sla")
