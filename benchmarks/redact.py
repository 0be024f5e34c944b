"""Throughput of the redactor on a large LOGS frame, against the v1 rule set.

    .venv/bin/python benchmarks/redact.py [--size-mb 100] [--dir /tmp/eafix-bench]

Reads a generated `docker compose logs` file (the one benchmarks/logs.py
writes, generated once under --dir) into LOGS, plants one secret line from
every rule's example in every 1,000 rows, and times
``Redactor().frame(logs)`` (the rule table of redact.py, keyword prefilter)
against the baseline measured in the same run: the seven v1 rules of
eafix-forensics 0.x applied to every distinct value, as redact.py did before
issue 16. MB/s count the message bytes of the frame. Target: the new rule
set, with four times the rules, no slower than the baseline (ratio >= 1).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from logs import generate  # benchmarks/logs.py: the same generated file

TARGET_RATIO = 1.0  # rule table speed / v1 rules speed, at least

# The v1 rule set (redact.py before issue 16), kept here as the baseline only.
_V1 = [
    (r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|.*\Z)", "[K]"),
    (r"(?P<k>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#\s@]*:)[^@\s/]+(?=@)", r"\g<k>***"),
    (r"(?i)(?P<k>\bauthorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token|digest|apikey)\s+)[^\s\"',;]+", r"\g<k>***"),
    (r"(?i)(?P<k>\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}", r"\g<k>***"),
    (r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*", "[JWT]"),
    (r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b", "[AWS]"),
    ((r"(?i)(?P<k>[\"'](?:[\w.-]*(?:api[_-]?key|apikey|token|secret|passw(?:or)?d|passphrase|pwd|access[_-]?key"
      r"|private[_-]?key|credential|session[_-]?id|auth)[\w.-]*)[\"']\s*:\s*)(?:\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s,}\]]+)"),
     r"\g<k>***"),
    ((r"(?i)(?P<k>\b[\w.-]*(?:api[_-]?key|apikey|token|secret|passw(?:or)?d|passphrase|pwd|access[_-]?key"
      r"|private[_-]?key|credential|session[_-]?id)[\w.-]*\s*[=:]\s*)(?:\"[^\"]*\"|'[^']*'|[^\s\"',;&]+)"), r"\g<k>***"),
]


def v1_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The v1 redactor's frame(): every rule over every distinct value of every text column."""
    rules = [(re.compile(rx, re.DOTALL), repl) for rx, repl in _V1]

    def text(value: str) -> str:
        for rx, repl in rules:
            value = rx.sub(repl, value)
        return value

    out = df.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.StringDtype):
            changed = {u: t for u in s.dropna().unique() if (t := text(u)) != u}
            if changed:
                out[col] = s.map(lambda v, c=changed: c.get(v, v) if isinstance(v, str) else v).astype(s.dtype)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=100)
    ap.add_argument("--dir", default="/tmp/eafix-bench")
    ap.add_argument("--repeat", type=int, default=3, help="runs per case; the fastest is reported")
    args = ap.parse_args()

    import eafix_forensics as ef
    from eafix_forensics.redact import RULES, Redactor

    path = Path(args.dir) / f"compose_24h_{args.size_mb}mb.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        generate(path, args.size_mb)
    logs = ef.read_compose_logs(path)
    examples = [r.example.replace("\n", " ") for r in RULES]
    planted = logs["message"].copy()
    every = planted.index[::1000]
    planted[every] = [examples[i % len(examples)] for i in range(len(every))]
    logs["message"] = planted
    mb = logs["message"].str.len().sum() / 1e6

    cases = {"rule table (redact.py)": lambda: Redactor().frame(logs), "v1 rules (baseline)": lambda: v1_frame(logs)}
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            out = fn()
            dt = time.perf_counter() - t0
            best[name] = min(best.get(name, dt), dt)
            if name.startswith("rule table"):
                leaked = [r.name for r in RULES if out["message"].str.contains(r.secret, regex=False).any()]
                if leaked:
                    raise SystemExit(f"secrets left by: {', '.join(leaked)}")
    base = mb / best["v1 rules (baseline)"]
    print(f"LOGS frame: {len(logs):,} rows, {mb:.0f} MB of messages, {len(every):,} planted secrets; "
          f"{len(RULES)} rules vs {len(_V1)} (best of {args.repeat})")
    print(f"{'case':<24} {'MB/s':>8} {'x v1':>6}")
    for name, dt in best.items():
        print(f"{name:<24} {mb / dt:8.1f} {mb / dt / base:6.2f}")
    ratio = best["v1 rules (baseline)"] / best["rule table (redact.py)"]
    if ratio < TARGET_RATIO:
        print(f"TARGET MISSED: the rule table runs at {ratio:.2f}x the v1 rules' speed, target >= {TARGET_RATIO:g}")
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
