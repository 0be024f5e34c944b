"""git source against real repositories built here: tags, merges, timezone offsets, shallow clones."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from eafix_forensics import commits
from eafix_forensics.analysis.changes import bundle_events
from eafix_forensics.bundle import Evidence, EvidenceBundle
from eafix_forensics.collect import CollectContext, collect
from eafix_forensics.config import Config
from eafix_forensics.errors import ConfigError, SourceUnavailable
from eafix_forensics.model import tables as schemas
from eafix_forensics.sources import git as gitsrc
from eafix_forensics.window import TimeWindow

WINDOW = TimeWindow.parse("2024-12-02T06:00:00Z", "2024-12-03T00:00:00Z")


def git(repo: Path, *args: str, date: str | None = None) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Sam Lee", "GIT_AUTHOR_EMAIL": "sam@example.com",
        "GIT_COMMITTER_NAME": "Sam Lee", "GIT_COMMITTER_EMAIL": "sam@example.com",
        "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
    }
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    out = subprocess.run(
        ["git", "-C", str(repo), "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false",
         "-c", "tag.gpgsign=false", *args],
        env=env, check=True, capture_output=True, text=True,
    )
    return out.stdout.strip()


def commit(repo: Path, message: str, date: str, files: dict[str, str | bytes], *, author_date: str | None = None) -> str:
    for name, content in files.items():
        p = repo / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
        git(repo, "add", name)
    args = ["commit", "-q", "-m", message]
    if author_date:
        # Author and committer differ: a commit authored earlier and landed (rebased) later.
        args += [f"--date={author_date}"]
    git(repo, *args, date=date)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """execution-engine: history before the window, commits in +02:00, -05:00, Z and +05:30,
    a feature branch merged with --no-ff, an annotated deploy tag, a lightweight v-tag and
    a lightweight non-deploy tag."""
    root = tmp_path_factory.mktemp("repos")
    r = root / "execution-engine"
    r.mkdir()
    git(r, "init", "-q")
    shas: dict[str, str] = {}
    shas["initial"] = commit(r, "initial import", "2024-12-01T20:00:00Z", {"a.txt": "one\ntwo\nthree\n"})
    shas["pool"] = commit(
        r, "switch broker client to async connection pool", "2024-12-02T09:31:00+02:00",
        {"pool.py": "".join(f"line {i}\n" for i in range(10)), "a.txt": "one\nTWO\nthree\n"},
        author_date="2024-12-02T09:30:00+02:00",
    )
    git(r, "tag", "v2.0.0")  # lightweight deploy tag: its time is the commit's
    git(r, "checkout", "-q", "-b", "feature")
    shas["feature"] = commit(r, "feature: retry on broker timeout", "2024-12-02T08:00:00-05:00",
                             {"feature.py": "a\nb\nc\nd\n"})
    git(r, "checkout", "-q", "main")
    shas["fix"] = commit(r, "fix: order ack timeout", "2024-12-02T13:30:00Z",
                         {"a.txt": "one\nTWO\n", "logo.bin": bytes(range(256))})
    git(r, "tag", "nightly-2024-12-02")  # lightweight, not a deploy
    git(r, "merge", "-q", "--no-ff", "-m", "Merge branch 'feature'", "feature", date="2024-12-02T19:45:00+05:30")
    shas["merge"] = git(r, "rev-parse", "HEAD")
    git(r, "tag", "-a", "deploy-execution-engine-1", "-m", "deploy 2.14.0", date="2024-12-02T14:20:00Z")
    return {"path": r, "shas": shas, "root": root}


def test_commits_exact_rows_in_utc(repo):
    shas = repo["shas"]
    df = commits(repo["path"], WINDOW)
    assert list(df.columns[:8]) == list(schemas.SCHEMAS["commits"])
    assert list(df["sha"]) == [shas["merge"], shas["fix"], shas["feature"], shas["pool"]]  # newest landed first
    rows = df.set_index("sha")
    pool = rows.loc[shas["pool"]]
    assert pool["timestamp"] == pd.Timestamp("2024-12-02T07:30:00Z")  # author time
    assert pool["committed_at"] == pd.Timestamp("2024-12-02T07:31:00Z")
    assert pool["author_tz"] == "+02:00"
    assert (pool["files_changed"], pool["insertions"], pool["deletions"]) == (2, 11, 1)
    assert pool["tags"] == "v2.0.0"
    assert pool["deployed_at"] == pd.Timestamp("2024-12-02T07:31:00Z")
    feature = rows.loc[shas["feature"]]
    assert feature["timestamp"] == pd.Timestamp("2024-12-02T13:00:00Z")
    assert feature["author_tz"] == "-05:00"
    fix = rows.loc[shas["fix"]]
    # The binary file counts as a changed file with no line counts.
    assert (fix["files_changed"], fix["insertions"], fix["deletions"]) == (2, 0, 1)
    assert fix["tags"] == "nightly-2024-12-02" and pd.isna(fix["deployed_at"])
    merge = rows.loc[shas["merge"]]
    assert bool(merge["is_merge"]) and merge["parents"] == f"{shas['fix']} {shas['feature']}"
    assert merge["timestamp"] == pd.Timestamp("2024-12-02T14:15:00Z") and merge["author_tz"] == "+05:30"
    # A merge's changes are what it brought into the first parent.
    assert (merge["files_changed"], merge["insertions"], merge["deletions"]) == (1, 4, 0)
    assert "tag: deploy-execution-engine-1" in merge["refs"] and "HEAD -> main" in merge["refs"]
    assert merge["deployed_at"] == pd.Timestamp("2024-12-02T14:20:00Z")
    assert not df["is_merge"].drop(index=df.index[df["sha"] == shas["merge"]]).any()
    assert set(df["service"]) == {"execution-engine"} and set(df["repo"]) == {"execution-engine"}
    assert str(df["timestamp"].dtype) == "datetime64[ns, UTC]"


def test_window_is_half_open_on_commit_time(repo):
    shas = repo["shas"]
    # pool landed at 07:31 (authored 07:30): it belongs to windows by when it landed.
    at = commits(repo["path"], TimeWindow.parse("2024-12-02T07:31:00Z", "2024-12-02T07:32:00Z"))
    assert list(at["sha"]) == [shas["pool"]]
    before = commits(repo["path"], TimeWindow.parse("2024-12-02T07:30:00Z", "2024-12-02T07:31:00Z"))
    assert before.empty


def test_window_without_commits_is_empty_frame_with_schema(repo):
    df = commits(repo["path"], TimeWindow.parse("2030-01-01T00:00Z", "2030-01-02T00:00Z"))
    assert df.empty
    full = commits(repo["path"], WINDOW)
    assert list(df.columns) == list(full.columns)
    assert list(df.dtypes.astype(str)) == list(full.dtypes.astype(str))


def test_tag_times_annotated_vs_lightweight(repo):
    _, tags, details = gitsrc.read_repo(repo["path"], WINDOW)
    assert details == {"shallow": False, "malformed_records": 0}
    got = {r.tag: (r.tagged_at, bool(r.annotated), bool(r.is_deploy), r.sha) for r in tags.itertuples()}
    shas = repo["shas"]
    assert got == {
        "v2.0.0": (pd.Timestamp("2024-12-02T07:31:00Z"), False, True, shas["pool"]),
        "nightly-2024-12-02": (pd.Timestamp("2024-12-02T13:30:00Z"), False, False, shas["fix"]),
        "deploy-execution-engine-1": (pd.Timestamp("2024-12-02T14:20:00Z"), True, True, shas["merge"]),
    }


def test_deploy_patterns_are_configurable(repo):
    df = commits(repo["path"], WINDOW, deploy_tags=["nightly-*"])
    rows = df.set_index("sha")
    assert rows.loc[repo["shas"]["fix"], "deployed_at"] == pd.Timestamp("2024-12-02T13:30:00Z")
    assert df["deployed_at"].notna().sum() == 1


def test_shallow_clone(repo, tmp_path):
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo['path']}", str(clone)],
                   check=True, capture_output=True)
    c, tags, details = gitsrc.read_repo(clone, WINDOW, service="execution-engine")
    assert details["shallow"] is True
    assert list(c["sha"]) == [repo["shas"]["merge"]]
    tip = c.iloc[0]
    # The boundary commit's parents were not fetched: its counts are unknown, not the whole tree.
    assert bool(tip["shallow_boundary"])
    assert pd.isna(tip["files_changed"]) and pd.isna(tip["insertions"])
    assert tip["committed_at"] == pd.Timestamp("2024-12-02T14:15:00Z")
    assert list(tags["tag"]) == ["deploy-execution-engine-1"]
    # A shallow clone with nothing in the window is empty, not an error.
    assert commits(clone, TimeWindow.parse("2024-11-01T00:00Z", "2024-11-02T00:00Z")).empty


def test_empty_repository_is_empty_frame(tmp_path):
    r = tmp_path / "fresh"
    r.mkdir()
    git(r, "init", "-q")
    assert commits(r, WINDOW).empty


def test_not_a_repository_is_a_clear_error(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(ConfigError, match=rf"{plain}: not a git repository"):
        commits(plain, WINDOW)
    with pytest.raises(ConfigError, match=r"missing: not a directory"):
        commits(tmp_path / "missing", WINDOW)


def test_missing_git_executable_is_source_unavailable(repo, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no git anywhere
    with pytest.raises(SourceUnavailable, match="git executable is not on PATH"):
        commits(repo["path"], WINDOW)


def test_git_timeout_is_source_unavailable(repo):
    with pytest.raises(SourceUnavailable, match=r"timed out after 1e-06 s"):
        commits(repo["path"], WINDOW, timeout_s=1e-6)


def test_git_failure_is_query_error_naming_the_command(tmp_path):
    from eafix_forensics.errors import QueryError

    r = tmp_path / "broken"
    r.mkdir()
    git(r, "init", "-q")
    commit(r, "one", "2024-12-02T10:00:00Z", {"a.txt": "a\n"})
    tree = git(r, "rev-parse", "HEAD^{tree}")
    (r / ".git" / "objects" / tree[:2] / tree[2:]).unlink()  # a corrupt repository: a missing tree
    with pytest.raises(QueryError, match=r"broken: git log .* failed \(exit 128\)") as err:
        commits(r, WINDOW)
    assert err.value.query.startswith("git log")


def test_parse_log_counts_malformed_records():
    good = "\x1e" + "\x00".join(["a" * 40, "", "Ann", "2024-12-02T10:00:00+01:00",
                                 "2024-12-02T10:00:00+01:00", "", "subject"]) + "\x00\n\n1\t2\tx.py\n"
    truncated = "b" * 40 + "\x00record"
    rows, bad = gitsrc.parse_log(good + "\x1e" + truncated)
    assert bad == [truncated]
    assert rows[0]["timestamp"] == pd.Timestamp("2024-12-02T09:00:00Z")
    assert (rows[0]["files_changed"], rows[0]["insertions"], rows[0]["deletions"]) == (1, 1, 2)


def _config(tmp_path: Path, raw: dict) -> Config:
    return Config.from_dict(raw, path=tmp_path / "eafix.toml")


def test_collector_reads_every_repo_and_keeps_partial_results(repo, tmp_path):
    cfg = _config(tmp_path, {"git": {
        "repos": [str(repo["path"]), str(tmp_path / "not-a-repo")],
        "services": {"execution-engine": "exec-svc"},
        "lookback": "12h",
    }})
    (tmp_path / "not-a-repo").mkdir()
    assert gitsrc.COLLECTOR.configured(cfg)
    assert not gitsrc.COLLECTOR.configured(Config())
    assert not gitsrc.COLLECTOR.configured(_config(tmp_path, {"git": {"repos": []}}))
    # Window 14:00-15:00; the 12 h lookback reaches back to 02:00 and so includes pool (07:31).
    ctx = CollectContext("INC-1", TimeWindow.parse("2024-12-02T14:00Z", "2024-12-02T15:00Z"), cfg)
    ev = {e.name: e for e in gitsrc.COLLECTOR.run(ctx)}
    assert ev["commits"].status == "truncated"
    assert "not-a-repo: not a git repository" in ev["commits"].error
    assert len(ev["commits"].frame) == 4 and set(ev["commits"].frame["service"]) == {"exec-svc"}
    assert "--since=2024-12-02T02:00:00+00:00" in ev["commits"].query
    assert set(ev["tags"].frame["tag"]) == {"v2.0.0", "nightly-2024-12-02", "deploy-execution-engine-1"}


def test_collect_into_bundle_gives_deploy_events(repo, tmp_path):
    cfg = _config(tmp_path, {"git": {"repos": [str(repo["path"])], "lookback": "12h"}})
    bundle = collect("INC-GIT", TimeWindow.parse("2024-12-02T14:00Z", "2024-12-02T15:00Z"), cfg,
                     output_dir=tmp_path / "out", sources=[gitsrc.COLLECTOR], progress=False)
    reopened = EvidenceBundle.open(bundle.path)
    assert reopened.status("commits") == "ok"
    events = bundle_events(reopened)
    assert list(events["kind"]) == ["deploy", "deploy"]
    assert list(events["timestamp"]) == [pd.Timestamp("2024-12-02T07:31:00Z"), pd.Timestamp("2024-12-02T14:20:00Z")]
    assert list(events["ref"]) == [repo["shas"]["pool"], repo["shas"]["merge"]]
    assert events["summary"].iloc[1].startswith("deploy deploy-execution-engine-1: ")
    assert set(events["service"]) == {"execution-engine"}


def test_unreadable_everything_is_unavailable(tmp_path):
    cfg = _config(tmp_path, {"git": {"repos": [str(tmp_path / "nope")]}})
    ev = gitsrc.COLLECTOR.run(CollectContext("INC-1", WINDOW, cfg))
    assert [e.status for e in ev] == ["unavailable", "unavailable"]
    assert all(isinstance(e, Evidence) and e.frame.empty for e in ev)
