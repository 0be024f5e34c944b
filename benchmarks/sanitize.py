"""HTML sanitizer speed: the report's ``clean_html`` (nh3) on a hostile ~0.9 MB fragment.

Issue 17 measured nh3 0.12 s against bleach 29.8 s on such a fragment. The fragment is what a
report output can look like when the evidence is hostile: a large table of log lines full of
unclosed tags, event handlers, script and style blocks, comments and nested markup.

    python benchmarks/sanitize.py [--kb 900] [--no-bleach]

Prints nh3's time and throughput; bleach is the baseline, measured in the same run when it is
importable (JupyterLab's nbconvert still installs it; the package itself neither uses nor installs it), with the same
allowlist and the regex pre-strip of <script>/<style> the old code needed.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eafix_forensics import report, report_html

ROWS = [
    ('<tr><td data-label="Time">14:0{i}:00</td><td onclick="x({i})">BrokerTimeout <script>alert({i})</script> '
    'order {i}<img src=x onerror=alert({i})></td><td><a href="javascript:alert({i})">ref</a><b><i>unclosed'),
    ('<tr><td>{i}</td><td><style>td{{color:red}}</style><!-- c{i} --><svg onload=alert({i})><p>nested <div><span>'
    '<em>deep {i}</em></span></div></td><td><iframe src=//evil/{i}></iframe><a href="../INC-{i}/review.html">r</a>'),
]


def fragment(kb: int) -> str:
    parts, size, i = ['<table border="1"><tbody>'], 0, 0
    while size < kb * 1024:
        row = ROWS[i % len(ROWS)].format(i=i)
        parts.append(row)
        size += len(row)
        i += 1
    parts.append("</tbody></table>")
    return "".join(parts)


def _bleach_clean(text: str) -> str:
    import bleach  # the baseline only

    text = re.sub(r"<(script|style)\b[^>]*>.*?</\1\s*>", "", text, flags=re.IGNORECASE | re.DOTALL)
    return str(bleach.clean(text, tags=report_html._ALLOWED_TAGS, attributes=report_html._attribute_ok,
                            protocols=["http", "https", "mailto", "data"], strip=True, strip_comments=True))


# Targets (exit 1 when missed): issue 17 measured ~9 MB/s and 23-250x bleach's speed here.
TARGET_MB_S = 2.0  # nh3 throughput on the hostile fragment, at least
TARGET_SPEEDUP = 5.0  # against bleach with the same allowlist, at least (when bleach is importable)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kb", type=int, default=900)
    ap.add_argument("--no-bleach", action="store_true", help="skip the (slow) bleach baseline")
    args = ap.parse_args()
    text = fragment(args.kb)
    mb = len(text.encode()) / 1e6
    t0 = time.perf_counter()
    out = report.clean_html(text)
    nh3_s = time.perf_counter() - t0
    assert "<script" not in out and "onerror" not in out and "javascript:" not in out
    print(f"fragment {mb:.2f} MB; nh3 clean_html {nh3_s:.3f} s ({mb / nh3_s:.1f} MB/s; target >= {TARGET_MB_S:g})")
    missed = [f"{mb / nh3_s:.1f} MB/s < {TARGET_MB_S:g}"] if mb / nh3_s < TARGET_MB_S else []
    try:
        if args.no_bleach:
            raise ImportError
        import bleach  # noqa: F401
    except ImportError:
        print("no bleach baseline (--no-bleach or not installed)")
    else:
        t0 = time.perf_counter()
        _bleach_clean(text)
        bleach_s = time.perf_counter() - t0
        print(f"bleach (baseline, same allowlist) {bleach_s:.3f} s ({mb / bleach_s:.2f} MB/s); "
              f"nh3 is {bleach_s / nh3_s:.0f}x faster (target >= {TARGET_SPEEDUP:g}x)")
        if bleach_s / nh3_s < TARGET_SPEEDUP:
            missed.append(f"{bleach_s / nh3_s:.1f}x bleach's speed < {TARGET_SPEEDUP:g}x")
    print(f"TARGET MISSED: {'; '.join(missed)}" if missed else "all targets met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
