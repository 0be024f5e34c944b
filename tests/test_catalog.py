"""The incident library, on SQLite and on the harness's private PostgreSQL.

Every test taking ``catalog_url`` runs once per backend. The bundles are the
demo's INC-DEMO and the generated past incidents (eafix_forensics.demo.history):
INC-2024-0917 shares INC-DEMO's BrokerTimeout signature and services,
INC-2024-1021 shares the signature and one service, the rest are unrelated.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from eafix_forensics import (
    Catalog,
    ConfigError,
    EvidenceBundle,
    QueryError,
    SourceUnavailable,
    similar,
)
from eafix_forensics.analysis import trends
from eafix_forensics.catalog import SCHEMA_VERSION
from eafix_forensics.cli import main
from eafix_forensics.demo import build_demo, build_demo_history, index_demo_history
from tests.harness import free_port

DATA = Path(__file__).parent / "data" / "catalog"
ROOT = Path(__file__).resolve().parent.parent
PAST = ["INC-2024-0812", "INC-2024-0917", "INC-2024-1021", "INC-2024-1105", "INC-2024-1118"]
ALL_IDS = sorted([*PAST, "INC-DEMO"])
TABLES = ("incidents", "incident_signatures", "incident_services", "incident_suspects", "action_items",
          "incident_sla")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An output directory holding INC-DEMO and the five past incidents (read-only)."""
    out = tmp_path_factory.mktemp("bundles")
    build_demo(out)
    build_demo_history(out)
    return out


@pytest.fixture(scope="module")
def summaries(bundles: Path) -> dict[str, trends.IncidentSummary]:
    """Each bundle's summary, computed once (the analysis is the slow part of indexing)."""
    return {
        iid: trends.summarize(EvidenceBundle.open(bundles / iid / "evidence")) for iid in ALL_IDS
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    server = request.getfixturevalue("pg_server")
    return str(server.create_database(extension=False))


@pytest.fixture
def catalog(catalog_url: str) -> Catalog:
    cat = Catalog.open(catalog_url)
    yield cat
    cat.close()


@pytest.fixture
def filled(catalog: Catalog, summaries: dict[str, trends.IncidentSummary]) -> Catalog:
    for s in summaries.values():
        assert catalog.put(s) == "added"
    return catalog


def _counts(cat: Catalog) -> dict[str, int]:
    with cat.engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def _rows(cat: Catalog, table: str, order: str) -> list[tuple[object, ...]]:
    with cat.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY {order}"))]


def _copy(src: Path, dst: Path, ids: list[str]) -> Path:
    for iid in ids:
        shutil.copytree(src / iid / "evidence", dst / iid / "evidence")
    return dst


# ------------------------------------------------------------------ index
def test_index_adds_every_bundle_then_changes_nothing(catalog: Catalog, bundles: Path) -> None:
    first = catalog.index(bundles)
    assert sorted(first.added) == ALL_IDS and not first.refused and not first.refreshed
    assert "6 added" in str(first) and "INC-2024-0917" in str(first)
    before = _counts(catalog)
    incidents_before = _rows(catalog, "incidents", "incident_id")

    second = catalog.index(bundles)
    assert sorted(second.unchanged) == ALL_IDS and not second.added and not second.refreshed
    assert _counts(catalog) == before
    assert _rows(catalog, "incidents", "incident_id") == incidents_before  # indexed_at untouched too

    inc = catalog.incidents().set_index("incident_id")
    assert sorted(inc.index) == ALL_IDS
    demo = inc.loc["INC-DEMO"]
    assert demo["severity"] == "P1" and demo["suggested_severity"] == "P1"
    assert demo["services"] == "execution-engine,signal-generator"
    assert demo["triggered_at"] == pd.Timestamp("2024-12-02T14:05Z")
    assert demo["resolved_at"] == pd.Timestamp("2024-12-02T15:20Z")
    assert demo["first_symptom_at"] < demo["triggered_at"]
    assert demo["manifest_sha256"] == EvidenceBundle.open(bundles / "INC-DEMO" / "evidence").manifest_sha256
    sigs = catalog.signatures()
    broker = sigs[(sigs["incident_id"] == "INC-DEMO") & sigs["signature"].str.contains("BrokerTimeout")]
    assert len(broker) == 1 and broker["count"].iloc[0] > 100
    sla = catalog.sla()
    assert set(sla[sla["incident_id"] == "INC-DEMO"]["sla"]) == set(trends.SLA_ORDER)
    top = catalog.suspects()
    assert top[top["incident_id"] == "INC-DEMO"].iloc[0]["service"] == "execution-engine"


def test_changed_bundle_is_reindexed_without_duplicates(catalog: Catalog, bundles: Path, tmp_path: Path) -> None:
    out = _copy(bundles, tmp_path / "out", PAST)
    assert sorted(catalog.index(out).added) == PAST
    before = _counts(catalog)
    build_demo_history(out, force=True)  # rewritten: new collected_at, new manifest sha256
    again = catalog.index(out)
    assert sorted(again.refreshed) == PAST and not again.added and not again.unchanged
    assert _counts(catalog) == before
    fresh = EvidenceBundle.open(out / "INC-2024-0917" / "evidence").manifest_sha256
    assert catalog.incidents().set_index("incident_id").loc["INC-2024-0917", "manifest_sha256"] == fresh


def test_bundle_failing_verify_is_refused_by_name(catalog: Catalog, bundles: Path, tmp_path: Path) -> None:
    out = _copy(bundles, tmp_path / "out", ["INC-2024-0917", "INC-2024-1105"])
    with (out / "INC-2024-1105" / "evidence" / "logs.parquet").open("ab") as fh:
        fh.write(b"tampered")
    (out / "broken" / "evidence").mkdir(parents=True)
    (out / "broken" / "evidence" / "manifest.json").write_text("{not json")
    result = catalog.index(out)
    assert result.added == ["INC-2024-0917"]
    refused = dict(result.refused)
    assert len(refused) == 2
    reason = refused[str(out / "INC-2024-1105" / "evidence")]
    assert "INC-2024-1105" in reason and "logs.parquet" in reason and "sha256" in reason
    assert "manifest" in refused[str(out / "broken" / "evidence")]
    assert "refused: " + str(out / "INC-2024-1105" / "evidence") in str(result)
    assert list(catalog.incidents()["incident_id"]) == ["INC-2024-0917"]


def test_cli_index_prints_the_result_and_fails_on_refusal(
    catalog_url: str, bundles: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _copy(bundles, tmp_path / "out", ["INC-2024-0917", "INC-2024-1021"])
    assert main(["index", str(out), "--catalog", catalog_url]) == 0
    assert "2 added" in capsys.readouterr().out
    assert main(["index", str(out), "--catalog", catalog_url]) == 0
    assert "2 unchanged" in capsys.readouterr().out
    (out / "INC-2024-1021" / "evidence" / "incident.parquet").unlink()
    assert main(["index", str(out), "--catalog", catalog_url]) == 1
    printed = capsys.readouterr().out
    assert "1 refused" in printed and "INC-2024-1021" in printed and "incident.parquet: missing" in printed


def test_two_index_processes_at_once(catalog_url: str, bundles: Path, tmp_path: Path) -> None:
    """Both start on a catalog that does not exist yet: the schema and every bundle race."""
    env = {k: v for k, v in os.environ.items() if k not in ("EAFIX_CONFIG", "EAFIX_OUTPUT_DIR")}
    env["PYTHONPATH"] = str(ROOT)
    cmd = [sys.executable, "-m", "eafix_forensics.cli", "index", str(bundles), "--catalog", catalog_url]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (stdout, stderr) in zip(procs, outs, strict=True):
        assert p.returncode == 0, stderr
        assert "0 refused" in stdout
    # Between them every incident was written at least once, and each exactly once in the catalog.
    with Catalog.open(catalog_url) as cat:
        ids = list(cat.incidents()["incident_id"])
        assert sorted(ids) == ALL_IDS
        counts = _counts(cat)
    with Catalog.open(f"sqlite:///{tmp_path / 'single.db'}") as single:
        single.index(bundles)
        assert counts == _counts(single)


# ------------------------------------------------------------------ similar
def test_similar_ranks_the_same_signatures_first(filled: Catalog, bundles: Path) -> None:
    demo = EvidenceBundle.open(bundles / "INC-DEMO" / "evidence")
    found = similar(demo, filled)
    assert list(found["incident_id"]) == ["INC-2024-0917", "INC-2024-1021"]
    assert list(found["rank"]) == [1, 2]
    twin = found.iloc[0]
    assert twin["score"] > found.iloc[1]["score"] > 0.1
    assert "BrokerTimeout" in twin["shared_signatures"]
    assert twin["shared_services"] == "execution-engine, signal-generator"
    assert "deploy of execution-engine" in twin["root_causes"]
    assert "Cap broker client concurrency" in twin["action_items"] and "[done]" in twin["action_items"]
    # The unrelated incidents share neither errors nor services: not listed, even with no threshold.
    everything = similar(demo, filled, min_score=0.0)
    assert set(everything["incident_id"]) == {"INC-2024-0917", "INC-2024-1021"}
    assert "INC-DEMO" not in set(everything["incident_id"])


def test_unrelated_incident_sharing_a_service_ranks_below(filled: Catalog, bundles: Path) -> None:
    # INC-2024-1021 (BrokerTimeout + gateway 503s): its twin is INC-DEMO / INC-2024-0917;
    # INC-2024-0812 only shares gui-gateway and ranks last, below the threshold.
    everything = filled.similar_to("INC-2024-1021", min_score=0.0)
    ids = list(everything["incident_id"])
    assert ids.index("INC-DEMO") < ids.index("INC-2024-0812")
    assert ids.index("INC-2024-0917") < ids.index("INC-2024-0812")
    assert "INC-2024-0812" not in set(filled.similar_to("INC-2024-1021")["incident_id"])
    assert filled.similar_to("INC-NOT-INDEXED").empty


def test_similar_score_matches_the_documented_formula(filled: Catalog, summaries: dict[str, trends.IncidentSummary]) -> None:
    demo, twin = summaries["INC-DEMO"], summaries["INC-2024-0917"]
    expected, sig, svc = trends.similarity(demo.signature_weights, demo.services,
                                           twin.signature_weights, twin.services)
    row = similar(demo, filled).iloc[0]
    assert row["incident_id"] == "INC-2024-0917"
    assert row["score"] == pytest.approx(expected, abs=1e-4)
    assert (row["signature_score"], row["service_score"]) == (pytest.approx(sig, abs=1e-4), pytest.approx(svc, abs=1e-4))


# ------------------------------------------------------------------ metrics
def test_response_metrics_across_incidents(filled: Catalog) -> None:
    times = filled.response_times().set_index(["month", "severity"])
    assert times.loc[("2024-09", "P1"), "ack_median_min"] == 25.0
    assert times.loc[("2024-12", "P1"), "ack_median_min"] == 4.0
    assert times.loc[("2024-12", "P1"), "resolve_median_min"] == 75.0
    assert times["incidents"].sum() == 6

    sla = filled.sla_compliance().set_index(["severity", "sla"])
    assert (sla.loc[("P1", "acknowledge"), "incidents"], sla.loc[("P1", "acknowledge"), "met"]) == (2, 1)
    assert sla.loc[("P1", "all"), "rate"] == 0.5
    assert sla.loc[("P0", "all"), "rate"] == 1.0

    recurring = filled.recurring_signatures()
    assert "BrokerTimeout" in recurring.iloc[0]["signature"]
    assert recurring.iloc[0]["incident_ids"] == "INC-2024-0917,INC-2024-1021,INC-DEMO"

    items = filled.open_action_items()
    assert "Review lock ordering in risk-manager" not in set(items["text"])  # done
    assert list(items[items["text"] == "Alert on broker acknowledgement timeouts per minute"]["incident_id"]) == [
        "INC-2024-0917", "INC-DEMO"]


# ------------------------------------------------------------------ schema
def _create_v1(url: str) -> None:
    engine = sa.create_engine(url)
    ddl = (DATA / f"v1_{engine.dialect.name}.sql").read_text()
    with engine.begin() as conn:
        for statement in ddl.split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)
        t = pd.Timestamp
        rows = [
            (1, "INC-OLD-1", "Broker timeouts", "P1", "execution-engine,signal-generator", t("2024-05-02T10:00Z"),
             t("2024-05-02T10:20Z"), t("2024-05-02T11:30Z")),
            (2, "INC-OLD-2", "Feed stale", "P2", "data-ingestor", t("2024-06-10T08:00Z"), None, None),
            (3, "INC-OLD-3", "No record", None, "", None, None, None),
        ]
        for pk, iid, title, sev, services, trig, ack, res in rows:
            conn.execute(sa.text(
                "INSERT INTO incidents (id, incident_id, title, severity, services, window_start, window_end, "
                "triggered_at, acknowledged_at, resolved_at, bundle_path, manifest_sha256, indexed_at) VALUES "
                "(:id, :iid, :title, :sev, :services, :ws, :we, :trig, :ack, :res, :path, :sha, :at)"),
                {"id": pk, "iid": iid, "title": title, "sev": sev, "services": services,
                 "ws": t("2024-05-01T00:00Z").to_pydatetime(), "we": t("2024-05-01T01:00Z").to_pydatetime(),
                 "trig": trig.to_pydatetime() if trig is not None else None,
                 "ack": ack.to_pydatetime() if ack is not None else None,
                 "res": res.to_pydatetime() if res is not None else None,
                 "path": f"/old/{iid}/evidence", "sha": "0" * 64, "at": t("2024-07-01T00:00Z").to_pydatetime()})
        sigs = [(1, "[execution-engine] BrokerTimeout: order <num> not acknowledged by broker after <num> ms", 90),
                (1, "[gui-gateway] upstream execution-engine returned <num>", 3),
                (2, "[data-ingestor] ConnectionResetError: market data websocket closed by peer (session <num>)", 40)]
        for pk, sig, count in sigs:
            conn.execute(sa.text("INSERT INTO incident_signatures (incident_pk, signature, count) VALUES (:p, :s, :c)"),
                         {"p": pk, "s": sig, "c": count})
        conn.execute(sa.text("INSERT INTO action_items (incident_pk, position, text, owner) VALUES "
                             "(1, 0, 'Alert on broker timeouts', 'platform'), (1, 1, 'Pin the broker client', NULL)"))
    engine.dispose()


def test_upgrade_from_v1_keeps_every_row(catalog_url: str, bundles: Path, tmp_path: Path) -> None:
    _create_v1(catalog_url)
    engine = sa.create_engine(catalog_url)
    with engine.connect() as conn:
        old = {t: [tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY 1, 2"))]
               for t in ("incidents", "incident_signatures", "action_items")}
    engine.dispose()

    with Catalog.open(catalog_url) as cat:
        assert cat.schema_version() == SCHEMA_VERSION
        with cat.engine.connect() as conn:
            for table, rows in old.items():
                n = len(rows[0])  # the v1 columns come first, unchanged
                now = [tuple(r)[:n] for r in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY 1, 2"))]
                assert now == rows, table
            services = conn.execute(sa.text(
                "SELECT incident_pk, service FROM incident_services ORDER BY 1, 2")).all()
        assert [tuple(r) for r in services] == [(1, "execution-engine"), (1, "signal-generator"), (2, "data-ingestor")]
        inc = cat.incidents().set_index("incident_id")
        assert inc.loc["INC-OLD-1", "acknowledged_at"] == pd.Timestamp("2024-05-02T10:20Z")
        assert len(cat.action_items()) == 2
        # Upgraded rows are searchable by similar …
        demo = EvidenceBundle.open(bundles / "INC-DEMO" / "evidence")
        found = similar(demo, cat)
        assert found.iloc[0]["incident_id"] == "INC-OLD-1"
        # … and a v1 row is refreshed by the next index, even with an unchanged bundle.
        cat.index(bundles / "INC-DEMO")
        assert cat.index(bundles / "INC-DEMO").unchanged == ["INC-DEMO"]

    # The upgraded schema is the schema a new catalog gets.
    fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    with Catalog.open(fresh_url) as fresh, Catalog.open(catalog_url) as upgraded:
        def columns(c: Catalog) -> dict[str, set[str]]:
            insp = sa.inspect(c.engine)
            return {t: {col["name"] for col in insp.get_columns(t)} for t in (*TABLES, "catalog_meta")}
        assert columns(upgraded) == columns(fresh)
        assert {i["name"] for i in sa.inspect(upgraded.engine).get_indexes("incident_signatures")} >= {
            "ix_incident_signatures_key"}
    # Opening again is a no-op (already upgraded).
    with Catalog.open(catalog_url) as cat:
        assert cat.schema_version() == SCHEMA_VERSION and len(cat.incidents()) == 4


def test_catalog_newer_than_the_tool_is_refused(catalog_url: str) -> None:
    with Catalog.open(catalog_url) as cat, cat.engine.begin() as conn:
        conn.execute(sa.text("UPDATE catalog_meta SET value = '99' WHERE key = 'schema_version'"))
    with pytest.raises(ConfigError, match="schema version 99 is newer"):
        Catalog.open(catalog_url)


# ------------------------------------------------------------------ opening
def test_default_catalog_is_sqlite_under_the_output_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EAFIX_CONFIG", raising=False)
    monkeypatch.setenv("EAFIX_OUTPUT_DIR", str(tmp_path / "elsewhere"))
    with Catalog.open() as cat:
        assert cat.backend == "sqlite" and cat.url == f"sqlite:///{tmp_path / 'elsewhere' / 'catalog.db'}"
    assert (tmp_path / "elsewhere" / "catalog.db").is_file()
    (tmp_path / "eafix.toml").write_text('[catalog]\nurl = "sqlite:///team.db"\n')
    with Catalog.open(config=tmp_path / "eafix.toml") as cat:
        assert cat.url == "sqlite:///team.db"
    with Catalog.open(tmp_path / "plain.db") as cat:
        assert cat.url == f"sqlite:///{tmp_path / 'plain.db'}"


def test_catalog_config_and_connection_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="unsupported database 'mysql'"):
        Catalog.open("mysql://db.example/catalog")
    port = free_port()
    with pytest.raises(SourceUnavailable, match=f"catalog postgresql\\+psycopg://eafix@127.0.0.1:{port}/lib"):
        Catalog.open(f"postgresql+psycopg://eafix@127.0.0.1:{port}/lib")
    monkeypatch.setenv("EAFIX_CATALOG_PASSWORD", "s3cret-canary")
    with pytest.raises(SourceUnavailable) as err:
        Catalog.open(f"postgresql://eafix@127.0.0.1:{port}/lib")
    assert "s3cret-canary" not in str(err.value)
    with pytest.raises(ConfigError, match="no such directory"):
        Catalog.open(f"sqlite:///{tmp_path / 'c.db'}").index(tmp_path / "missing")
    (tmp_path / "garbage.db").write_bytes(b"this is not a database file" * 100)
    with pytest.raises(QueryError, match=r"catalog sqlite:///.*garbage\.db: .*not a database"):
        Catalog.open(tmp_path / "garbage.db")


def test_demo_history_indexes_seen_before(tmp_path: Path) -> None:
    build_demo(tmp_path)
    result = index_demo_history(tmp_path)
    assert sorted(result.added) == ALL_IDS and not result.refused
    with Catalog.open(output_dir=tmp_path) as cat:
        assert list(cat.similar_to("INC-DEMO")["incident_id"]) == ["INC-2024-0917", "INC-2024-1021"]


def test_trends_report_renders_sanitized_html(tmp_path: Path) -> None:
    from bs4 import BeautifulSoup

    from eafix_forensics.bundle import Evidence, bundle_dir
    from eafix_forensics.demo import DEMO_WINDOW
    from eafix_forensics.model import tables as schemas
    from eafix_forensics.report import run_report

    out = tmp_path / "out"
    build_demo(out)
    index_demo_history(out)
    # An error message carrying markup, in two incidents: it is a recurring signature in the report.
    hostile = "render failed: <script>alert(1)</script><img src=x onerror=alert(1)>"
    for iid in ("INC-HOSTILE-1", "INC-HOSTILE-2"):
        logs = schemas.conform([{"timestamp": DEMO_WINDOW.start, "service": "gui-gateway", "replica": 1,
                                 "level": "ERROR", "message": hostile, "source": "x.txt", "line": 1}], "logs")
        EvidenceBundle.write(bundle_dir(iid, out), incident_id=iid, window=DEMO_WINDOW,
                             evidence=[Evidence("logs", logs, source="logs")])
    with Catalog.open(output_dir=out) as cat:
        assert sorted(cat.index(out).added) == ["INC-HOSTILE-1", "INC-HOSTILE-2"]

    html_path = run_report("INC-DEMO", kind="trends", output_dir=out)
    html = html_path.read_text()
    soup = BeautifulSoup(html, "html.parser")
    assert not soup.find_all("script")
    assert not [t for t in soup.find_all(True) if any(a.lower().startswith("on") for a in t.attrs)]
    assert "&lt;script&gt;" in html  # the hostile signature is shown, as text
    assert len(soup.find_all("img", src=lambda s: bool(s) and s.startswith("data:image/png;base64,"))) == 3
    text = soup.get_text(" ")
    for expected in ("Response times", "SLA compliance", "Recurring error signatures", "Open action items",
                     "Seen before", "INC-2024-0917", "Alert on broker acknowledgement timeouts per minute"):
        assert expected in text
    assert "ef.Catalog.open" not in html  # no code cells
