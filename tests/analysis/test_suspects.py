"""suspects(): INC-DEMO's execution-engine deploy first; the ranking rule on
hand-made changes; bundles without changes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import eafix_forensics as ef
from eafix_forensics.analysis.suspects import SUSPECT_COLUMNS, Symptoms, rank_changes
from eafix_forensics.model.topology import Topology
from eafix_forensics.bundle import Evidence, EvidenceBundle
from eafix_forensics.config import Config
from eafix_forensics.demo import DEMO_WINDOW, T, build_demo, demo_evidence
from eafix_forensics.model import tables as schemas

DEPLOY_SHA = "9b8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6"
FIRST = T("14:00")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> EvidenceBundle:
    return build_demo(tmp_path_factory.mktemp("demo"))


def test_demo_top_suspect_is_the_execution_engine_deploy(demo: EvidenceBundle) -> None:
    s = ef.suspects(demo)
    assert list(s.columns) == list(SUSPECT_COLUMNS)
    top = s.iloc[0]
    assert (top["rank"], top["kind"], top["service"], top["sha"]) == (1, "deploy", "execution-engine", DEPLOY_SHA)
    assert top["timestamp"] == T("13:48") and top["lead"] == pd.Timedelta(minutes=7)
    assert "7 min before the first symptom it could explain (13:55:00 first_error on execution-engine" in top["reason"]
    assert "the service that failed first" in top["reason"]
    assert top["tag"] == "deploy-execution-engine-2024.12.02" and top["author"] == "Sam Lee"
    # The deploy's commit and its container restart are the same change, named in its reason.
    assert "committed 2024-12-02 13:40 by Sam Lee" in top["reason"]
    assert "at 13:48:30 (logs:incident_logs_" in top["reason"]
    assert (s["sha"] == DEPLOY_SHA).sum() == 1 and "restart" not in set(s["kind"])
    other = s[s["service"] == "indicator-engine"].iloc[0]
    assert other["kind"] == "commit" and other["rank"] == 2 and other["score"] < 0.01
    assert "hours" not in other["reason"] and "4 h 46 min before" in other["reason"]
    assert list(s["rank"]) == list(range(1, len(s) + 1))
    assert s["score"].is_monotonic_decreasing


def change(kind: str, ts: pd.Timestamp, service: str, sha: str = "", **extra: object) -> dict[str, object]:
    return {"kind": kind, "timestamp": ts, "service": service, "sha": sha or None, "ref": sha or f"logs:x:{service}",
            "summary": f"{kind} {service}", **extra}


def failing(*pairs: tuple[str, pd.Timestamp]) -> Symptoms:
    """Symptoms of the named services at the given times (the first pair failed first)."""
    out = Symptoms()
    for node, at in pairs:
        out.first_at[node] = at
        out.what[node] = f"{at:%H:%M:%S} first_error on {node}"
    out.incident_node, out.incident_at = min(pairs, key=lambda p: p[1])
    out.incident_what = out.what[out.incident_node]
    return out


def test_a_change_on_the_failed_service_beats_a_closer_one_elsewhere() -> None:
    changes = [
        change("deploy", FIRST - pd.Timedelta(minutes=2), "gui-gateway", "a" * 40),
        change("deploy", FIRST - pd.Timedelta(minutes=40), "execution-engine", "b" * 40),
    ]
    out = rank_changes(changes, symptoms=failing(("execution-engine", FIRST)))
    assert list(out["service"]) == ["execution-engine", "gui-gateway"]
    assert out.iloc[0]["lead"] == pd.Timedelta(minutes=40)
    # gui-gateway depends on execution-engine: downstream of the failure, a tenth of the credit
    assert out.iloc[1]["score"] < 0.15 and "downstream of execution-engine" in out.iloc[1]["reason"]


def test_closer_wins_on_the_same_service_and_deploys_outrank_commits() -> None:
    firsts = failing(("execution-engine", FIRST))
    out = rank_changes(
        [change("deploy", FIRST - pd.Timedelta(hours=3), "execution-engine", "a" * 40),
         change("deploy", FIRST - pd.Timedelta(minutes=5), "execution-engine", "b" * 40)],
        symptoms=firsts,
    )
    assert list(out["sha"]) == ["b" * 40, "a" * 40]
    # Age decays the whole score: three hours before is no longer a strong suspect.
    assert out.iloc[1]["score"] < 0.05 < 0.8 < out.iloc[0]["score"]
    same_time = FIRST - pd.Timedelta(minutes=5)
    out = rank_changes(
        [change("commit", same_time, "execution-engine", "c" * 40),
         change("restart", same_time, "execution-engine"),
         change("deploy", same_time, "execution-engine", "d" * 40)],
        symptoms=firsts,
    )
    assert list(out["kind"]) == ["deploy", "restart", "commit"]


def test_changes_after_the_first_symptom_are_listed_below_and_rollbacks_are_mitigation() -> None:
    firsts = failing(("execution-engine", FIRST), ("signal-generator", FIRST + pd.Timedelta(minutes=10)))
    out = rank_changes(
        [change("deploy", FIRST + pd.Timedelta(minutes=1), "execution-engine", "a" * 40, rollback=True),
         change("deploy", FIRST + pd.Timedelta(minutes=5), "signal-generator", "b" * 40),
         change("restart", FIRST + pd.Timedelta(minutes=2), "risk-manager")],
        symptoms=firsts,
    )
    assert len(out) == 3  # every change is listed, none silently dropped
    top = out.iloc[0]
    assert top["sha"] == "b" * 40 and top["lead"] == pd.Timedelta(minutes=-5)
    assert "after the incident's first symptom" in top["reason"] and "5 min before" in top["reason"]
    rollback = out[out["sha"] == "a" * 40].iloc[0]
    assert rollback["score"] == 0 and bool(rollback["mitigation"]) and "mitigation" in rollback["reason"]
    restart = out[out["kind"] == "restart"].iloc[0]
    assert restart["score"] == 0 and bool(restart["mitigation"])


def test_upstream_credit_falls_with_graph_distance() -> None:
    firsts = failing(("signal-generator", FIRST))
    at = FIRST - pd.Timedelta(minutes=10)
    out = rank_changes(
        [change("deploy", at, "indicator-engine", "a" * 40),   # one hop up
         change("deploy", at, "data-ingestor", "b" * 40),      # two hops up
         change("deploy", at, "execution-engine", "c" * 40)],  # downstream
        symptoms=firsts,
    )
    assert list(out["service"]) == ["indicator-engine", "data-ingestor", "execution-engine"]
    assert "upstream of signal-generator (1 hop)" in out.iloc[0]["reason"]
    assert out.iloc[0]["score"] > out.iloc[1]["score"] > out.iloc[2]["score"]
    # A custom graph without the edge gives no upstream credit at all.
    flat = Topology.from_mapping({"signal-generator": [], "indicator-engine": []})
    out = rank_changes([change("deploy", at, "indicator-engine", "a" * 40)], symptoms=firsts, topology=flat)
    assert out.iloc[0]["score"] < 0.01 and "shows no symptom" in out.iloc[0]["reason"]


def test_a_lock_held_by_another_service_links_its_change() -> None:
    firsts = failing(("execution-engine", FIRST))
    at = FIRST - pd.Timedelta(minutes=3)
    flat = Topology.from_mapping({"execution-engine": [], "risk-manager": []})
    migration = change("deploy", at, "risk-manager", "a" * 40)
    linked = rank_changes([migration], symptoms=firsts, topology=flat,
                          links={("risk-manager", "execution-engine"): "pid 7 (risk-manager) blocked pid 9"})
    unlinked = rank_changes([migration], symptoms=firsts, topology=flat)
    assert linked.iloc[0]["score"] > 0.8 and "blocked execution-engine in PostgreSQL" in linked.iloc[0]["reason"]
    assert unlinked.iloc[0]["score"] < 0.01


def test_docs_only_commits_rank_below_runtime_ones() -> None:
    firsts = failing(("execution-engine", FIRST))
    out = rank_changes(
        [change("commit", FIRST - pd.Timedelta(minutes=1), "execution-engine", "a" * 40, change_class="docs"),
         change("commit", FIRST - pd.Timedelta(minutes=50), "execution-engine", "b" * 40, change_class="code")],
        symptoms=firsts,
    )
    assert list(out["sha"]) == ["b" * 40, "a" * 40]
    assert "docs only: it cannot change what runs" in out.iloc[1]["reason"]


def test_proximity_is_to_the_first_symptom_the_change_can_explain() -> None:
    # risk-manager changes at 13:50; execution-engine (downstream of it) fails at 14:00;
    # risk-manager itself only logs an error at 14:30. The lead is 10 min, not 40.
    firsts = failing(("execution-engine", FIRST), ("risk-manager", FIRST + pd.Timedelta(minutes=30)))
    out = rank_changes([change("deploy", FIRST - pd.Timedelta(minutes=10), "risk-manager", "a" * 40)],
                       symptoms=firsts)
    assert "10 min before the first symptom it could explain (14:00:00 first_error on execution-engine" \
        in out.iloc[0]["reason"]


def test_no_changes_give_an_empty_frame_with_the_columns() -> None:
    out = rank_changes([], symptoms=Symptoms(), fallback_at=FIRST)
    assert out.empty and list(out.columns) == list(SUSPECT_COLUMNS)
    assert out["lead"].dtype == "timedelta64[ns]"


def test_a_restart_without_a_deploy_is_its_own_suspect(tmp_path: Path) -> None:
    # No git at all: the restart seen in the logs is the only change left.
    evidence = [e for e in demo_evidence(tmp_path / "w") if e.source != "git"]
    bundle = EvidenceBundle.write(tmp_path / "b", incident_id="INC-T", window=DEMO_WINDOW, evidence=evidence,
                                  config=Config())
    s = ef.suspects(bundle)
    assert list(s["kind"]) == ["restart"]
    top = s.iloc[0]
    assert top["service"] == "execution-engine" and pd.isna(top["sha"])
    assert top["ref"].startswith("logs:") and top["timestamp"] == T("13:48:30")


def test_a_bundle_without_changes_has_no_suspects(tmp_path: Path) -> None:
    quiet = [Evidence("commits", schemas.empty("commits"), source="git")]
    bundle = EvidenceBundle.write(tmp_path / "b", incident_id="INC-T", window=DEMO_WINDOW, evidence=quiet,
                                  config=Config())
    s = ef.suspects(bundle)
    assert s.empty and list(s.columns) == list(SUSPECT_COLUMNS)
    assert s.attrs["first_symptom"].endswith("window end")


def test_a_change_explains_a_failure_of_many_services_at_once_only_as_far_as_it_reaches() -> None:
    at = FIRST
    firsts = failing(*[(s, at) for s in ("data-ingestor", "indicator-engine", "signal-generator",
                                         "risk-manager", "execution-engine", "gui-gateway")])
    firsts.together = set(firsts.first_at)
    out = rank_changes(
        [change("deploy", at - pd.Timedelta(minutes=5), "execution-engine", "a" * 40),
         change("deploy", at - pd.Timedelta(minutes=5), "data-ingestor", "b" * 40)],
        symptoms=firsts,
    )
    by = dict(zip(out["service"], out["score"], strict=True))
    # data-ingestor feeds every one of them; execution-engine reaches itself and gui-gateway only
    assert by["data-ingestor"] > 0.8 and by["execution-engine"] < 0.3
    assert "it reaches only 2 of the 6 services that failed at once" in out.iloc[1]["reason"]


def test_a_change_made_while_the_market_was_closed_is_young_at_the_open() -> None:
    from eafix_forensics.analysis.calendar import TradingCalendar

    opening = pd.Timestamp("2024-12-01T22:00:05Z")  # Sunday 22:00: the FX week opens
    firsts = failing(("data-ingestor", opening))
    deploy = [change("deploy", pd.Timestamp("2024-12-01T18:05Z"), "data-ingestor", "a" * 40)]
    wall = rank_changes(deploy, symptoms=firsts)
    market = rank_changes(deploy, symptoms=firsts, calendar=TradingCalendar.from_config(Config()))
    assert wall.iloc[0]["score"] < 0.01 < 0.9 < market.iloc[0]["score"]
    assert "the market was closed for 3 h 55 min" in market.iloc[0]["reason"]
    # a symptom in market hours after a change in market hours counts wall time as before
    monday = failing(("data-ingestor", pd.Timestamp("2024-12-02T14:00Z")))
    same = [change("deploy", pd.Timestamp("2024-12-02T13:00Z"), "data-ingestor", "a" * 40)]
    assert rank_changes(same, symptoms=monday, calendar=TradingCalendar.from_config(Config())).iloc[0]["score"] \
        == rank_changes(same, symptoms=monday).iloc[0]["score"]


def test_a_library_release_is_a_change_to_the_services_that_consume_it() -> None:
    libs = Topology.from_mapping(None, {"eafix-common": ["execution-engine", "risk-manager"]})
    symptoms = failing(("risk-manager", FIRST), ("execution-engine", FIRST + pd.Timedelta(seconds=45)))
    changes = [
        change("deploy", FIRST - pd.Timedelta(minutes=10), "eafix-common", "a" * 40, tag="v3.5.0"),
        # signal-generator is one hop upstream of risk-manager, and closer in time
        change("deploy", FIRST - pd.Timedelta(minutes=5), "signal-generator", "b" * 40),
    ]
    out = rank_changes(changes, symptoms=symptoms, topology=libs)
    top = out.iloc[0]
    assert top["service"] == "eafix-common" and top["rank"] == 1
    assert "eafix-common is a library risk-manager uses: it changes risk-manager itself" in top["reason"]
    assert "shows no symptom" not in top["reason"]
    # Undeclared, the same release explains nothing and says why.
    plain = rank_changes(changes, symptoms=symptoms)
    lib = plain[plain["service"] == "eafix-common"].iloc[0]
    assert lib["rank"] == 2 and "it touches eafix-common, which shows no symptom" in lib["reason"]
    # Declared but its consumers are fine: the reason names them.
    quiet = rank_changes(changes[:1], symptoms=failing(("data-ingestor", FIRST)), topology=libs)
    assert "eafix-common is a library used by execution-engine, risk-manager, none of which shows a symptom" \
        in quiet.iloc[0]["reason"]


def test_a_change_whose_revert_ended_the_symptoms_is_confirmed_by_it() -> None:
    # Saturday: postgres refuses clients 13 min after a risk-manager deploy; every client crash-loops at
    # once, so the deploy reaches only a share of them — until its revert ends the outage.
    t0 = pd.Timestamp("2026-11-21T10:00:02Z")
    together = ["postgres", "execution-engine", "signal-generator", "data-ingestor", "indicator-engine", "gui-gateway"]
    symptoms = failing(*[(svc, t0 + pd.Timedelta(seconds=i)) for i, svc in enumerate(together)])
    symptoms.together = set(together)
    culprit = change("deploy", t0 - pd.Timedelta(minutes=13), "risk-manager", "a" * 40,
                     subject="risk-manager: weekly VaR report runs one worker per account", version="4.7.0")
    closer = change("deploy", t0 - pd.Timedelta(minutes=2), "gui-gateway", "b" * 40, subject="gui-gateway: banner")
    revert = change("deploy", t0 + pd.Timedelta(minutes=29), "risk-manager", "c" * 40, rollback=True,
                    subject='Revert "risk-manager: weekly VaR report runs one worker per account"',
                    tag="deploy-risk-manager-4.7.1", version="4.7.1")
    symptoms.ended_at = t0 + pd.Timedelta(minutes=29, seconds=40)
    out = rank_changes([dict(culprit), dict(closer), dict(revert)], symptoms=symptoms)
    top = out.iloc[0]
    assert top["service"] == "risk-manager" and top["score"] > 0.7
    assert "undone at 10:29:02 (deploy-risk-manager-4.7.1) and the symptoms stopped 40 s later" in top["reason"]
    assert out[out["sha"] == "c" * 40].iloc[0]["mitigation"]
    # Just misses: the symptoms went on for 20 min after the revert (it did not fix them) ...
    symptoms.ended_at = t0 + pd.Timedelta(minutes=49)
    out = rank_changes([dict(culprit), dict(closer), dict(revert)], symptoms=symptoms)
    assert out.iloc[0]["score"] < 0.3 and "undone" not in out.iloc[0]["reason"]
    # ... or they had stopped before it (a clean-up, not the fix).
    symptoms.ended_at = t0 + pd.Timedelta(minutes=20)
    out = rank_changes([dict(culprit), dict(closer), dict(revert)], symptoms=symptoms)
    assert out.iloc[0]["score"] < 0.3
    # A deploy back to the version before it undoes it too.
    symptoms.ended_at = t0 + pd.Timedelta(minutes=31)
    back = change("deploy", t0 + pd.Timedelta(minutes=29), "risk-manager", "d" * 40, rollback=True, version="4.6.9",
                  tag="deploy-risk-manager-4.6.9")
    before = change("deploy", t0 - pd.Timedelta(days=3), "risk-manager", "e" * 40, version="4.6.9")
    out = rank_changes([dict(before), dict(culprit), dict(closer), dict(back)], symptoms=symptoms)
    assert out.iloc[0]["sha"] == "a" * 40 and "undone at 10:29:02 (deploy-risk-manager-4.6.9)" in out.iloc[0]["reason"]
