"""suspects(): INC-DEMO's execution-engine deploy first; the ranking rule on
hand-made changes; bundles without changes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import eafix_forensics as ef
from eafix_forensics.analysis.suspects import SUSPECT_COLUMNS, rank_changes
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
    assert "7 min before the first symptom (13:55:00 first_error on execution-engine)" in top["reason"]
    assert "the service that failed first" in top["reason"]
    # The deploy's commit and its container restart are the same change, named in its reason.
    assert "committed 2024-12-02 13:40 by Sam Lee" in top["reason"]
    assert "at 13:48:30 (logs:incident_logs_" in top["reason"]
    assert (s["sha"] == DEPLOY_SHA).sum() == 1 and "restart" not in set(s["kind"])
    other = s[s["service"] == "indicator-engine"].iloc[0]
    assert other["kind"] == "commit" and other["rank"] == 2 and other["score"] < 0.01
    assert "which shows no symptom" in other["reason"]
    assert list(s["rank"]) == list(range(1, len(s) + 1))
    assert s["score"].is_monotonic_decreasing


def change(kind: str, ts: pd.Timestamp, service: str, sha: str = "") -> dict[str, object]:
    return {"kind": kind, "timestamp": ts, "service": service, "sha": sha or None, "ref": sha or f"logs:x:{service}",
            "summary": f"{kind} {service}"}


def test_a_change_on_the_failed_service_beats_a_closer_one_elsewhere() -> None:
    changes = [
        change("deploy", FIRST - pd.Timedelta(minutes=2), "gui-gateway", "a" * 40),
        change("deploy", FIRST - pd.Timedelta(minutes=40), "execution-engine", "b" * 40),
    ]
    out = rank_changes(changes, first_symptom_at=FIRST, service_first={"execution-engine": FIRST})
    assert list(out["service"]) == ["execution-engine", "gui-gateway"]
    assert out.iloc[0]["lead"] == pd.Timedelta(minutes=40)


def test_closer_wins_on_the_same_service_and_deploys_outrank_commits() -> None:
    firsts = {"execution-engine": FIRST}
    out = rank_changes(
        [change("deploy", FIRST - pd.Timedelta(hours=3), "execution-engine", "a" * 40),
         change("deploy", FIRST - pd.Timedelta(minutes=5), "execution-engine", "b" * 40)],
        first_symptom_at=FIRST, service_first=firsts,
    )
    assert list(out["sha"]) == ["b" * 40, "a" * 40]
    same_time = FIRST - pd.Timedelta(minutes=5)
    out = rank_changes(
        [change("commit", same_time, "execution-engine", "c" * 40),
         change("restart", same_time, "execution-engine"),
         change("deploy", same_time, "execution-engine", "d" * 40)],
        first_symptom_at=FIRST, service_first=firsts,
    )
    assert list(out["kind"]) == ["deploy", "restart", "commit"]


def test_changes_after_their_own_service_failed_are_not_suspects() -> None:
    firsts = {"execution-engine": FIRST, "signal-generator": FIRST + pd.Timedelta(minutes=10)}
    out = rank_changes(
        [change("deploy", FIRST + pd.Timedelta(minutes=1), "execution-engine", "a" * 40),  # after: a fix, not a cause
         change("deploy", FIRST + pd.Timedelta(minutes=5), "signal-generator", "b" * 40)],
        first_symptom_at=FIRST, service_first=firsts,
    )
    assert list(out["sha"]) == ["b" * 40]
    row = out.iloc[0]
    assert row["lead"] == pd.Timedelta(minutes=-5)
    assert "5 min after the first symptom" in row["reason"] and "before signal-generator's own first symptom" in row["reason"]


def test_no_changes_give_an_empty_frame_with_the_columns() -> None:
    out = rank_changes([], first_symptom_at=FIRST)
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
