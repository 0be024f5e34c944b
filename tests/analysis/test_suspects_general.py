"""Suspect rules that must hold on variants nobody has seen: the client that exhausted the
shared database, a change undone in vain, and the first symptom the leads are measured to."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from eafix_forensics.analysis.rule_evidence import SeverityEvidence
from eafix_forensics.analysis.severity import risk_manager_failure
from eafix_forensics.analysis.shared_load import connection_holders
from eafix_forensics.analysis.suspects import rank_changes, suspects, symptoms_of
from eafix_forensics.analysis.verdict import Symptom, _look_next
from eafix_forensics.bundle import Evidence, EvidenceBundle
from eafix_forensics.config import Config
from eafix_forensics.model import tables as schemas
from eafix_forensics.model.topology import Topology
from eafix_forensics.window import TimeWindow

T0 = pd.Timestamp("2026-05-12T10:00:02.911Z")  # a Tuesday, market open
REFUSED = "FATAL:  sorry, too many clients already"


def events(*rows: tuple[pd.Timedelta, str, str, str, str]) -> pd.DataFrame:
    """TIMELINE rows (offset from T0, source, service, kind, summary), critical."""
    return schemas.conform([
        {"timestamp": T0 + off, "source": src, "service": svc, "kind": kind, "severity": "critical",
         "summary": text, "ref": f"{src}:{svc}:{i}"}
        for i, (off, src, svc, kind, text) in enumerate(rows)
    ], "timeline")


def change(kind: str, ts: pd.Timestamp, service: str, sha: str, **extra: object) -> dict[str, object]:
    return {"kind": kind, "timestamp": ts, "service": service, "sha": sha, "ref": sha,
            "summary": f"{kind} {service}", **extra}


def s(sec: float) -> pd.Timedelta:
    return pd.Timedelta(seconds=sec)


def refused_everywhere() -> pd.DataFrame:
    victims = ["execution-engine", "signal-generator", "data-ingestor", "gui-gateway"]
    return events(
        (s(0), "logs", "postgres", "first_error", f"first error in postgres: {REFUSED}"),
        *[(s(1 + i), "logs", v, "first_error", f"first error in {v}: database connection failed: {REFUSED}")
          for i, v in enumerate(victims)],
    )


def test_the_client_that_kept_working_while_the_database_refused_the_others_is_the_suspect() -> None:
    # No revert to confirm anything: risk-manager (a client of postgres, no symptom of its own)
    # deployed 13 min before; gui-gateway, one of the refused clients, deployed 2 min before.
    found = symptoms_of(refused_everywhere(), Topology())
    assert set(found.exhausted) == {"postgres"} and "too many clients" in found.exhausted["postgres"]
    hog = change("deploy", T0 - pd.Timedelta(minutes=13), "risk-manager", "a" * 40)
    victim = change("deploy", T0 - pd.Timedelta(minutes=2), "gui-gateway", "b" * 40)
    out = rank_changes([hog, victim], symptoms=found, topology=Topology())
    top = out.iloc[0]
    assert top["service"] == "risk-manager" and top["score"] > 0.5
    assert "risk-manager is a client of postgres, which refused clients" in top["reason"]
    assert "shows no symptom while 4 other client(s) were refused" in top["reason"]
    assert out.iloc[1]["score"] < 0.3  # a refused client is a victim, not the load
    # The same deploy when postgres failed for another reason (disk full) is only downstream of it.
    disk = symptoms_of(events((s(0), "logs", "postgres", "first_error", "could not extend file: No space left on device"),
                              (s(1), "logs", "data-ingestor", "first_error", "database error")), Topology())
    assert not disk.exhausted
    row = rank_changes([hog], symptoms=disk, topology=Topology()).iloc[0]
    assert row["score"] < 0.1 and "downstream of postgres" in row["reason"]


def test_a_refused_client_is_not_the_load_even_when_it_changed_last() -> None:
    # Every client was refused, including risk-manager: nobody kept working, so nobody gets the load credit.
    rows = refused_everywhere()
    rm = events((s(6), "logs", "risk-manager", "first_error", f"first error in risk-manager: {REFUSED}"))
    found = symptoms_of(pd.concat([rows, rm], ignore_index=True), Topology())
    out = rank_changes([change("deploy", T0 - pd.Timedelta(minutes=13), "risk-manager", "a" * 40)],
                       symptoms=found, topology=Topology())
    # It explains its own refusal and those downstream of it (3 of the 6 that failed at once), no more.
    assert out.iloc[0]["score"] < 0.4 and "refused clients" not in out.iloc[0]["reason"]
    assert "it reaches only 3 of the 6 services that failed at once" in out.iloc[0]["reason"]


def _undone(ended: pd.Timestamp | None, ongoing: pd.Timestamp | None = None, klass: str = "code") -> pd.Series:
    found = symptoms_of(events((s(0), "logs", "execution-engine", "first_error", "order rejected")), Topology())
    found.ended_at, found.ongoing_until = ended, ongoing
    innocent = change("deploy", T0 - pd.Timedelta(minutes=5), "execution-engine", "a" * 40, version="2.20.0",
                      subject="execution-engine: clearer log lines", change_class=klass)
    before = change("deploy", T0 - pd.Timedelta(days=2), "execution-engine", "c" * 40, version="2.19.9")
    back = change("deploy", T0 + pd.Timedelta(minutes=10), "execution-engine", "b" * 40, version="2.19.9",
                  rollback=True, tag="deploy-execution-engine-2.19.9")
    out = rank_changes([before, innocent, back], symptoms=found, topology=Topology())
    return out[out["sha"] == "a" * 40].iloc[0]


def test_a_change_undone_while_the_symptoms_went_on_is_cleared() -> None:
    # Rolled back 10 min into the incident; the errors went on for another 50 min.
    row = _undone(T0 + pd.Timedelta(minutes=60))
    assert row["score"] < 0.3
    assert "undone at 10:10:02 (deploy-execution-engine-2.19.9) and the symptoms went on 50 min after that" \
        in row["reason"] and "undoing it did not end them" in row["reason"]
    # A breach still going at the end of the window clears it too.
    row = _undone(None, ongoing=T0 + pd.Timedelta(hours=1))
    assert row["score"] < 0.3 and "still going at the end of the window" in row["reason"]
    # Symptoms that stopped within REVERT_CONFIRM of the rollback confirm it instead.
    assert _undone(T0 + pd.Timedelta(minutes=12))["score"] > 0.8
    # Rolling back code does not undo a schema migration: not cleared.
    assert _undone(T0 + pd.Timedelta(minutes=60), klass="migration")["score"] > 0.8


def test_the_leads_are_measured_to_the_symptom_the_verdict_names() -> None:
    # A 15 s metric sample of signal-generator at 10:00:00, an exact error line on execution-engine
    # 2.9 s later: the first symptom is the log line (timeline.first_symptom's rule), so a deploy of
    # execution-engine explains the incident's first symptom, not a later one.
    rows = events((s(-2.911), "prometheus", "signal-generator", "threshold_breach", "signal latency"),
                  (s(0), "logs", "execution-engine", "first_error", "order rejected"))
    step = pd.Timedelta(seconds=15)
    found = symptoms_of(rows, Topology(), metric_step=step)
    assert found.incident_node == "execution-engine" and found.incident_at == T0
    deploy = change("deploy", T0 - pd.Timedelta(minutes=5), "execution-engine", "a" * 40)
    row = rank_changes([deploy], symptoms=found, topology=Topology()).iloc[0]
    assert "the service that failed first" in row["reason"] and row["lead"] == pd.Timedelta(minutes=5)
    # Without the step the metric sample stays first.
    assert symptoms_of(rows, Topology()).incident_node == "signal-generator"


def test_where_to_look_next_names_the_configured_feed_services() -> None:
    # A feed service the config names (not the default data-ingestor) points at the market-data feed.
    rows = events((s(0), "logs", "fxlink", "first_error", "fxlink: upstream closed"))
    cfg = Config()
    cfg.severity.market_data_services = ["fxlink"]
    sym = (Symptom(T0, "fxlink", "first_error", "fxlink: upstream closed", "logs:x:1"),)
    first = _look_next(rows, sym, cfg)[0]
    assert first.startswith("market-data feed: are prices fresh? (market_data_age, fxlink logs)")
    assert _look_next(rows, sym, Config())[0].startswith("broker")  # nothing points anywhere: runbook order


def test_the_database_sample_during_the_incident_names_the_client_holding_its_connections(tmp_path: Path) -> None:
    # Every client failed (risk-manager too), but the database's own sample at 10:05 shows
    # risk-manager holding 48 of its 60 connections; the same sample taken at collection a
    # day later says nothing about the incident.
    rows = pd.concat([refused_everywhere(), events(
        (s(6), "logs", "risk-manager", "first_error", f"first error in risk-manager: {REFUSED}"))], ignore_index=True)

    def bundle(sampled: pd.Timestamp, name: str) -> EvidenceBundle:
        conn = pd.DataFrame({"state": ["idle in transaction", "active", "active"],
                             "application_name": ["risk-manager", "risk-manager", "gui-gateway"],
                             "count": [40, 8, 2], "max_connections": [60] * 3, "reserved_connections": [3] * 3,
                             "sampled_at": [sampled] * 3})
        return EvidenceBundle.write(tmp_path / name, incident_id="INC-T",
                                    window=TimeWindow(T0 - pd.Timedelta(hours=1), T0 + pd.Timedelta(hours=1)),
                                    evidence=[Evidence("pg_connections", conn, "postgres")], config=Config())

    during = connection_holders(bundle(T0 + pd.Timedelta(minutes=5), "during"), Config(), {"risk-manager", "gui-gateway"})
    assert during == {"risk-manager": "it held 48 of the 60 connections at 10:05:02"}
    later = bundle(T0 + pd.Timedelta(days=1), "later")
    assert connection_holders(later, Config(), {"risk-manager", "gui-gateway"}) == {}
    found = symptoms_of(rows, Topology())
    found.holders = during
    hog = change("deploy", T0 - pd.Timedelta(minutes=13), "risk-manager", "a" * 40)
    top = rank_changes([hog], symptoms=found, topology=Topology()).iloc[0]
    assert top["score"] > 0.5 and "it held 48 of the 60 connections at 10:05:02" in top["reason"]


def test_a_deploy_of_a_service_that_failed_after_its_upstream_only_explains_a_consequence() -> None:
    # risk-manager fails first (its deploy 6 min before); execution-engine, which depends on it,
    # fails 18 s later, 2 min after its own deploy: that deploy is a trap, far below the cause.
    found = symptoms_of(events((s(0), "logs", "risk-manager", "first_error", "risk check crashed"),
                               (s(18), "logs", "execution-engine", "first_error", "risk-manager unavailable")),
                        Topology())
    culprit = change("deploy", T0 - pd.Timedelta(minutes=6), "risk-manager", "a" * 40)
    trap = change("deploy", T0 - pd.Timedelta(minutes=2), "execution-engine", "b" * 40)
    out = rank_changes([culprit, trap], symptoms=found, topology=Topology())
    assert list(out["sha"]) == ["a" * 40, "b" * 40]
    low = out.iloc[1]
    assert low["score"] < 0.3
    assert "but execution-engine failed after risk-manager (10:00:02 first_error on risk-manager) upstream of it" \
        in low["reason"]
    # After a failure of a service it does not depend on (gui-gateway, downstream of it), no cascade is claimed.
    alone = symptoms_of(events((s(0), "logs", "gui-gateway", "first_error", "export failed"),
                               (s(18), "logs", "execution-engine", "first_error", "order rejected")), Topology())
    row = rank_changes([trap], symptoms=alone, topology=Topology()).iloc[0]
    assert row["score"] > 0.5 and "upstream of it" not in row["reason"]


def test_the_loading_clients_change_is_judged_on_the_time_scale_of_its_work() -> None:
    # A config commit moves a gui-gateway batch job; the job runs 40 min later and takes every
    # database slot. The load comes when the work runs, not when the change is made: still the suspect.
    slots = "FATAL:  remaining connection slots are reserved for non-replication superuser connections"
    found = symptoms_of(events((s(0), "logs", "postgres", "first_error", f"first error in postgres: {slots}"),
                               (s(1), "logs", "execution-engine", "first_error", f"order failed: {slots}"),
                               (s(40), "logs", "risk-manager", "first_error", "connection pool exhausted")),
                        Topology())
    job = change("commit", T0 - pd.Timedelta(minutes=40), "gui-gateway", "a" * 40, change_class="config")
    victim = change("deploy", T0 - pd.Timedelta(minutes=12), "execution-engine", "b" * 40)
    out = rank_changes([job, victim], symptoms=found, topology=Topology())
    top = out.iloc[0]
    assert top["sha"] == "a" * 40 and top["score"] >= 0.4
    assert "gui-gateway is a client of postgres, which refused clients" in top["reason"]
    assert out.iloc[1]["score"] < top["score"] - 0.1


def test_an_upstream_change_does_not_explain_a_failing_link_to_an_outside_party() -> None:
    # execution-engine cannot complete the TLS handshake with the broker; risk-manager (upstream of it,
    # no symptom of its own) changed a config 8 min before: it does not carry that link.
    tls = ("FIX session LMAX-PROD: TLS handshake with fix.lmax-prod.example:4443 failed: certificate verify "
           "failed: certificate has expired")
    found = symptoms_of(events((s(0), "logs", "execution-engine", "first_error", f"first error: {tls}")), Topology())
    upstream = change("commit", T0 - pd.Timedelta(minutes=8), "risk-manager", "a" * 40, change_class="config")
    row = rank_changes([upstream], symptoms=found, topology=Topology()).iloc[0]
    assert row["score"] < 0.3
    assert "but execution-engine's error is its link to an outside party failing ('TLS handshake')" in row["reason"]
    # The failing service's own change keeps its credit (its TLS settings may be what broke), and an
    # upstream change still explains an error that is not about an outside party.
    own = change("deploy", T0 - pd.Timedelta(minutes=8), "execution-engine", "b" * 40)
    assert rank_changes([own], symptoms=found, topology=Topology()).iloc[0]["score"] > 0.8
    plain = symptoms_of(events((s(0), "logs", "execution-engine", "first_error", "order size limit missing")),
                        Topology())
    assert rank_changes([upstream], symptoms=plain, topology=Topology()).iloc[0]["score"] > 0.4


def test_a_service_its_clients_report_not_answering_is_where_it_broke() -> None:
    # risk-manager hangs silently (no error of its own); execution-engine logs the approval timeouts.
    # risk-manager's deploy 14 min before is the suspect, not execution-engine's 4 min before.
    timeout = "order O-61502 rejected: pre-trade approval from risk-manager timed out after 2 s"
    found = symptoms_of(events((s(0), "logs", "execution-engine", "first_error", f"first error: {timeout}"),
                               (s(60), "logs", "gui-gateway", "first_error", "POST /api/orders 504: approval timeout")),
                        Topology())
    assert found.incident_node == "risk-manager" and found.first_at["risk-manager"] == T0
    hung = change("deploy", T0 - pd.Timedelta(minutes=14), "risk-manager", "a" * 40)
    reporter = change("deploy", T0 - pd.Timedelta(minutes=4), "execution-engine", "b" * 40)
    out = rank_changes([hung, reporter], symptoms=found, topology=Topology())
    assert list(out["sha"]) == ["a" * 40, "b" * 40]
    assert "10:00:02 execution-engine reports risk-manager not answering ('timed out')" in out.iloc[0]["reason"]
    assert out.iloc[1]["score"] < out.iloc[0]["score"] - 0.3
    assert "but execution-engine failed after risk-manager (10:00:02 execution-engine reports risk-manager" \
        in out.iloc[1]["reason"]


def test_risk_management_fails_when_its_clients_report_it_not_answering_in_market_hours() -> None:
    start = T0 - pd.Timedelta(hours=1)
    rows = [{"timestamp": T0 + pd.Timedelta(seconds=12 * i), "service": "execution-engine", "replica": 1,
             "level": "ERROR", "message": f"order O-{i} rejected: pre-trade approval from risk-manager timed out",
             "source": "x.log", "line": i} for i in range(12)]
    ev = SeverityEvidence(window=TimeWindow(start, start + pd.Timedelta(hours=2)), logs=schemas.conform(rows, "logs"))
    reason = risk_manager_failure(ev, Config())
    assert reason is not None and reason.startswith("risk management failure: execution-engine reports risk-manager "
                                                    "not answering from 10:00:02 to 10:02:14 (12 errors")
    # A handful of timeouts is not a failure, nor are the same reports on a Saturday (market closed).
    few = SeverityEvidence(window=ev.window, logs=schemas.conform(rows[:3], "logs"))
    assert risk_manager_failure(few, Config()) is None
    sat = [dict(r, timestamp=r["timestamp"] + pd.Timedelta(days=4)) for r in rows]
    closed = SeverityEvidence(window=TimeWindow(start + pd.Timedelta(days=4), start + pd.Timedelta(days=4, hours=2)),
                              logs=schemas.conform(sat, "logs"))
    assert risk_manager_failure(closed, Config()) is None


def test_a_consumer_restarting_after_a_library_release_is_that_release_rolling_out(tmp_path: Path) -> None:
    # eafix-marketdata v1.8.0 is tagged at 09:20; data-ingestor (which uses it) restarts at 09:24:20 and
    # fails 31 s later. The restart is the release reaching data-ingestor, not a change of its own.
    t = pd.Timestamp("2026-07-23T09:20:00Z")
    commits = schemas.conform([{"timestamp": t - pd.Timedelta(minutes=28), "sha": "a" * 40, "author": "Bob",
                                "subject": "eafix-marketdata: decimal ticks", "files_changed": 3, "insertions": 40,
                                "deletions": 12, "refs": "tag: v1.8.0"}], "commits").assign(repo="eafix-marketdata")
    tags = pd.DataFrame({"tagged_at": [t], "tag": ["v1.8.0"], "sha": ["a" * 40], "service": ["eafix-marketdata"]})
    lines = [(t + pd.Timedelta(seconds=260), "INFO", "Starting data-ingestor version 2.6.5"),
             (t + pd.Timedelta(seconds=291), "ERROR", "tick decode failed: unexpected decimal scale")]
    log_rows = schemas.conform([{"timestamp": at, "service": "data-ingestor", "replica": 1, "level": lv,
                                 "message": msg, "source": "compose.log", "line": i + 1}
                                for i, (at, lv, msg) in enumerate(lines)], "logs")
    cfg_text = '[topology.libraries]\n"eafix-marketdata" = ["data-ingestor", "indicator-engine"]\n'
    (tmp_path / "eafix.toml").write_text(cfg_text)
    conf = Config.load(tmp_path / "eafix.toml")
    bundle = EvidenceBundle.write(
        tmp_path / "b", incident_id="INC-T", window=TimeWindow(t - pd.Timedelta(hours=1), t + pd.Timedelta(hours=1)),
        evidence=[Evidence("commits", commits, "git"), Evidence("tags", tags, "git"),
                  Evidence("logs", log_rows, "logs")], config=conf)
    out = suspects(bundle)
    assert list(out["kind"]) == ["deploy"]
    top = out.iloc[0]
    assert top["service"] == "eafix-marketdata" and "data-ingestor started version 2.6.5" in top["reason"]
