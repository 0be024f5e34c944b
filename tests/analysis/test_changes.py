"""Deploy markers as TIMELINE events, from tags and commits frames and from bundles."""

from __future__ import annotations

import pandas as pd

from eafix_forensics.analysis.changes import bundle_events, deploy_events
from eafix_forensics.bundle import Evidence, EvidenceBundle
from eafix_forensics.demo import DEMO_WINDOW, build_demo
from eafix_forensics.model import tables as schemas
from eafix_forensics.sources.git import commits_frame, tags_frame

SHA_A = "a" * 40
SHA_B = "b" * 40


def T(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC")


def commit_rows() -> pd.DataFrame:
    return commits_frame([
        {"timestamp": T("2024-12-02T13:40Z"), "sha": SHA_A, "author": "Sam Lee", "subject": "async pool",
         "committed_at": T("2024-12-02T13:41Z"), "tags": "deploy-exec-1, nightly", "refs": "tag: deploy-exec-1",
         "deployed_at": T("2024-12-02T13:48Z"), "service": "execution-engine", "repo": "execution-engine"},
        {"timestamp": T("2024-12-02T09:00Z"), "sha": SHA_B, "author": "Dana Ortiz", "subject": "rsi window",
         "committed_at": T("2024-12-02T09:05Z"), "refs": "HEAD -> main, tag: v1.4.0, origin/main",
         "service": "indicator-engine", "repo": "indicator-engine"},
    ])


def test_tag_times_win_and_commit_tags_fill_in():
    tags = tags_frame([{"tagged_at": T("2024-12-02T13:48Z"), "tag": "deploy-exec-1", "sha": SHA_A,
                        "annotated": True, "service": "execution-engine"},
                       {"tagged_at": T("2024-12-02T13:50Z"), "tag": "nightly", "sha": SHA_A, "annotated": False}])
    ev = deploy_events(commit_rows(), tags)
    assert list(ev.columns) == list(schemas.SCHEMAS["timeline"])
    assert ev.to_dict("list") == {
        "timestamp": [T("2024-12-02T09:05Z"), T("2024-12-02T13:48Z")],
        "source": ["git", "git"],
        "service": ["indicator-engine", "execution-engine"],
        "kind": ["deploy", "deploy"],
        "severity": ["info", "info"],
        # v1.4.0 is only in the commit's refs (no tags column): its time is the commit's.
        "summary": [f"deploy v1.4.0: {SHA_B[:8]} rsi window (Dana Ortiz)",
                    f"deploy deploy-exec-1: {SHA_A[:8]} async pool (Sam Lee)"],
        "ref": [SHA_B, SHA_A],
    }


def test_patterns_select_the_deploys():
    ev = deploy_events(commit_rows(), None, patterns=["nightly"])
    assert list(ev["summary"].str.split(":").str[0]) == ["deploy nightly"]
    # Without a tags table the commit's deployed_at is the best time known.
    assert list(ev["timestamp"]) == [T("2024-12-02T13:48Z")]
    assert deploy_events(commit_rows(), None, patterns=["release-*"]).empty


def test_empty_inputs_give_an_empty_timeline():
    for ev in (deploy_events(None), deploy_events(commits_frame(None), tags_frame(None))):
        assert ev.empty
        assert list(ev.dtypes.astype(str)) == list(schemas.empty("timeline").dtypes.astype(str))


def test_demo_bundle_has_the_13_48_deploy(tmp_path):
    ev = bundle_events(build_demo(tmp_path))
    assert len(ev) == 1
    row = ev.iloc[0]
    assert row["timestamp"] == T("2024-12-02T13:48Z")
    assert (row["service"], row["ref"]) == ("execution-engine", "9b8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6")


def test_bundle_without_git_tables_or_unavailable_git(tmp_path):
    bare = EvidenceBundle.write(tmp_path / "a", incident_id="INC-1", window=DEMO_WINDOW,
                                evidence=[Evidence("health", schemas.empty("health"), source="services")])
    assert bundle_events(bare).empty
    failed = EvidenceBundle.write(
        tmp_path / "b", incident_id="INC-1", window=DEMO_WINDOW,
        evidence=[Evidence("commits", schemas.empty("commits"), source="git", status="unavailable", error="x"),
                  Evidence("tags", pd.DataFrame(), source="git", status="unavailable", error="x")])
    assert failed.status("commits") == "unavailable"
    assert bundle_events(failed).empty


def test_demo_commits_are_the_story(tmp_path):
    c = build_demo(tmp_path).table("commits")
    assert list(c["timestamp"].dt.strftime("%H:%M")) == ["13:40", "09:10"]
    deploy = c.iloc[0]
    assert (deploy["files_changed"], deploy["insertions"], deploy["deletions"]) == (5, 212, 97)
    assert deploy["deployed_at"] == T("2024-12-02T13:48Z")
    assert list(c["service"]) == ["execution-engine", "indicator-engine"]
