"""``eafix-forensics``: collect evidence, render reports, verify bundles.

Exit status: 0 success; 1 a check failed (a hash differs, a notebook cell
failed); 2 usage or configuration error (bad incident id, window, config,
missing bundle). Errors print as one line; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import traceback
from collections.abc import Sequence

from ._version import __version__
from .analysis.incident import incident_from_bundle
from .analysis.updates import update_message
from .bundle import EvidenceBundle, bundle_dir, check_incident_id, existing_bundle
from .catalog import Catalog
from .collect import collect
from .config import Config, output_root
from .demo import EMBEDDED_INCIDENTS, run_demo
from .errors import (
    BundleError,
    ConfigError,
    ForensicsError,
    IntegrityError,
    ReportError,
    SourceError,
)
from .export import EXPORT_FORMATS, export_timeline
from .model.incident import UPDATE_STATUSES
from .report import NOTEBOOK_DIR, NOTEBOOKS, open_or_collect, run_reports
from .sources.incident import incident_record
from .window import TimeWindow

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's own usage errors also exit 2: one line, then where the usage is.
        print(f"{self.prog}: error: {' '.join(message.split())}", file=sys.stderr)
        print(f"Try '{self.prog} --help'.", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _seconds(text: str) -> float:
    """A positive, finite number of seconds (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive, finite number of seconds")
    return value


def _window_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("time window (UTC unless an offset is given)")
    g.add_argument("--since", metavar="DURATION", help="the last DURATION, e.g. 15m, 1h, 24h")
    g.add_argument("--start", metavar="TIME", help="ISO 8601, e.g. 2024-12-02T14:00Z")
    g.add_argument("--end", metavar="TIME", help="ISO 8601 (default: now)")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="eafix.toml (default: $EAFIX_CONFIG or ./eafix.toml)")
    p.add_argument("--output-dir", metavar="DIR", default=None,
                   help="where bundles and reports go (default: $EAFIX_OUTPUT_DIR, else [collect] output_dir, "
                   "else ./output)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="eafix-forensics",
        description="Incident forensics for EAFIX: collect evidence bundles, render investigation "
        "reports and post-incident reviews.",
        epilog="Exit status: 0 ok, 1 a check failed, 2 usage or configuration error.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("collect", help="collect every configured source into output/INCIDENT_ID/evidence",
                       description="Run every configured source for a window and write a hashed, redacted "
                       "evidence bundle. A source that fails is recorded as unavailable; the others still land.")
    p.add_argument("incident_id", metavar="INCIDENT_ID")
    _window_args(p)
    _common(p)
    p.add_argument("--force", action="store_true", help="replace an existing bundle")
    p.add_argument("--watch", metavar="DURATION", help="sample live database activity and locks this long (e.g. 60s)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bars (tqdm): on by default on a terminal, off when stderr is a pipe or a file "
                   "($EAFIX_PROGRESS=1/0 too); --no-progress also drops the per-source lines")
    p.add_argument("--quiet", action="store_true", help="no progress lines (same as --no-progress)")

    p = sub.add_parser("report", help="render a report notebook to HTML",
                       description="Execute a report notebook with papermill for an incident and export it "
                       "to output/INCIDENT_ID/<kind>.html. Collects first when no bundle exists and a window is given.")
    p.add_argument("incident_id", metavar="INCIDENT_ID")
    p.add_argument("--kind", default="investigation", choices=["investigation", "review", "all", "trends"],
                   help="which report (default: investigation; all = investigation and review)")
    p.add_argument("--format", default="html", choices=["html", "md"],
                   help="html (default; the review's Markdown is written beside it too) or md (Markdown only, "
                   "for a wiki or a pull request)")
    p.add_argument("--bundle", metavar="DIR", help="an evidence bundle directory (default: output/INCIDENT_ID/evidence)")
    p.add_argument("--timeout", type=_seconds, default=600, metavar="SECONDS", help="per-cell execution timeout")
    _window_args(p)
    _common(p)

    p = sub.add_parser("verify", help="check every file of a bundle against its manifest hashes",
                       description="Exit 0 when every file is listed, inside the bundle, with its sha256 and row "
                       "count; 1 naming each missing, extra or altered file (or a malformed manifest).")
    p.add_argument("bundle", metavar="BUNDLE_DIR")
    p.add_argument("--expect", metavar="SHA256", help="the manifest sha256 printed by collect (or kept in the catalog)")
    p.add_argument("--allowed-signers", metavar="FILE",
                   help="ssh-keygen allowed-signers file: require a valid manifest signature "
                   "(default: [bundle] allowed_signers)")
    p.add_argument("--catalog", metavar="URL", nargs="?", const="",
                   help="require the manifest sha256 the incident library recorded at index (default library without URL)")
    p.add_argument("--config", metavar="FILE")

    p = sub.add_parser("demo", help="build the sample incident INC-DEMO and render its reports")
    p.add_argument("--output-dir", metavar="DIR", default=None,
                   help="where the bundle and reports go (default: $EAFIX_OUTPUT_DIR, else ./output)")

    p = sub.add_parser("update", help="print the runbook's incident update message",
                       description="Render the runbook's update template for an incident, from its bundle "
                       "(output/INCIDENT_ID/evidence) or its incident record.")
    p.add_argument("incident_id", metavar="INCIDENT_ID")
    p.add_argument("--status", required=True, choices=UPDATE_STATUSES)
    p.add_argument("--impact", help="service affected, user impact")
    p.add_argument("--actions", help="what is being done")
    p.add_argument("--eta", help="expected resolution time")
    p.add_argument("--next-update", help="when the next update will be given")
    _common(p)

    p = sub.add_parser("export", help="write an incident's timeline for Timesketch (JSONL) or as CSV",
                       description="Write the timeline of output/INCIDENT_ID/evidence, one line per event, as "
                       "Timesketch JSONL (message, datetime, timestamp_desc, plus source, service, severity, kind, "
                       "ref) or as CSV with the same columns. Default file: output/INCIDENT_ID/timeline.jsonl "
                       "(or .csv).")
    p.add_argument("incident_id", metavar="INCIDENT_ID")
    p.add_argument("--format", default="timesketch", choices=list(EXPORT_FORMATS),
                   help="timesketch (JSONL, the default) or csv")
    p.add_argument("--output", metavar="FILE", help="where to write (Timesketch imports *.jsonl and *.csv names)")
    p.add_argument("--bundle", metavar="DIR", help="an evidence bundle directory (default: output/INCIDENT_ID/evidence)")
    _common(p)

    p = sub.add_parser("index", help="add every bundle under PATH to the incident library")
    p.add_argument("path", nargs="?", default=None, metavar="PATH",
                   help="default: $EAFIX_OUTPUT_DIR, else [collect] output_dir, else ./output")
    p.add_argument("--config", metavar="FILE")
    p.add_argument("--catalog", metavar="URL", help="SQLAlchemy URL (default: sqlite:///output/catalog.db)")
    return parser


def _window(args: argparse.Namespace, *, required: bool) -> TimeWindow | None:
    if args.since and (args.start or args.end):
        raise ConfigError("give either --since or --start/--end, not both")
    if args.since:
        return TimeWindow.last(args.since)
    if args.start:
        return TimeWindow.parse(args.start, args.end)
    if args.end:
        raise ConfigError("--end needs --start")
    if required:
        raise ConfigError("give a window: --since 1h, or --start TIME [--end TIME]")
    return None


def _cmd_collect(args: argparse.Namespace) -> int:
    check_incident_id(args.incident_id)
    window = _window(args, required=True)
    assert window is not None
    config = Config.load(args.config)
    bundle = collect(args.incident_id, window, config, output_dir=args.output_dir, force=args.force, reuse=False,
                     watch=args.watch, progress=False if args.quiet else args.progress,
                     embedded_incidents=EMBEDDED_INCIDENTS)
    bad = [n for n in bundle.tables if bundle.status(n) == "unavailable"]
    print(f"{bundle.path}: {len(bundle.tables)} tables"
          + (f"; unavailable: {', '.join(bad)}" if bad else ""))
    # The reviewer's anchor: `verify --expect` with this value proves the manifest was not edited.
    print(f"manifest sha256 {bundle.manifest_sha256}")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    check_incident_id(args.incident_id)
    output_dir = output_root(args.output_dir, Config.load(args.config))
    window = _window(args, required=False)
    bundle_path = args.bundle
    if bundle_path is not None:
        bundle_path = str(EvidenceBundle.open(bundle_path).path)  # BundleError (exit 2) before any kernel starts
    if args.kind != "trends" and bundle_path is None:
        if window is None:
            existing_bundle(args.incident_id, output_dir, hint="or pass --since/--start")
        else:
            bundle = open_or_collect(args.incident_id, window=window, config_path=args.config,
                                     output_dir=output_dir)
            bundle_path = str(bundle.path)
    kinds = ["investigation", "review"] if args.kind == "all" else [args.kind]
    for html in run_reports(args.incident_id, kinds=kinds, output_dir=output_dir, bundle_path=bundle_path,
                            config_path=args.config, timeout_s=args.timeout, format=args.format):
        print(html)
    return EXIT_OK


def _cmd_verify(args: argparse.Namespace) -> int:
    bundle = EvidenceBundle.open(args.bundle)  # a malformed manifest: IntegrityError, exit 1
    signers = args.allowed_signers
    if signers is None:
        config = Config.load(args.config)
        signers = str(config.resolve(config.bundle.allowed_signers)) if config.bundle.allowed_signers else None
    expect = args.expect
    if args.catalog is not None:
        expect = _indexed_sha256(bundle.incident_id, args.catalog or None, args.config)
        if args.expect and args.expect.strip().lower() != expect:
            raise ConfigError(f"--expect {args.expect} and the catalog's {expect} disagree")
    problems = bundle.verify(expect=expect, allowed_signers=signers)
    if problems:
        for line in problems:
            print(f"{bundle.path / line}", file=sys.stderr)
        print(f"{bundle.path}: FAILED ({len(problems)} problem(s))", file=sys.stderr)
        return EXIT_FAILED
    signed = f", signed by {bundle.signer(signers)}" if signers else (", signed (not checked)" if bundle.signed else "")
    print(f"{bundle.path}: OK ({len(bundle.tables)} tables, every sha256 matches; "
          f"manifest sha256 {bundle.manifest_sha256}{signed})")
    return EXIT_OK


def _indexed_sha256(incident_id: str, url: str | None, config: str | None) -> str:
    """The manifest sha256 the incident library recorded for ``incident_id``."""
    with Catalog.open(url, config=config) as catalog:
        rows = catalog.incidents()
    match = rows[rows["incident_id"] == incident_id]
    if match.empty:
        raise ConfigError(f"{incident_id}: not in the incident library {catalog.url}; run `eafix-forensics index` first")
    return str(match["manifest_sha256"].iloc[0])


def _cmd_demo(args: argparse.Namespace) -> int:
    kinds = tuple(k for k in ("investigation", "review", "trends") if (NOTEBOOK_DIR / NOTEBOOKS[k]).is_file())
    for html in run_demo(output_root(args.output_dir), kinds=kinds):
        print(html)
    return EXIT_OK


def _cmd_update(args: argparse.Namespace) -> int:
    check_incident_id(args.incident_id)
    config = Config.load(args.config)
    path = bundle_dir(args.incident_id, output_root(args.output_dir, config))
    if (path / "manifest.json").is_file():
        incident = incident_from_bundle(EvidenceBundle.open(path))
    else:
        incident = incident_record(args.incident_id, config, embedded=EMBEDDED_INCIDENTS)
    print(update_message(incident, args.status, impact=args.impact, actions=args.actions,
                         eta=args.eta, next_update=args.next_update))
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    check_incident_id(args.incident_id)
    if args.bundle:
        bundle = EvidenceBundle.open(args.bundle)
    else:
        root = output_root(args.output_dir, Config.load(args.config))
        bundle = EvidenceBundle.open(existing_bundle(args.incident_id, root))
    path, events = export_timeline(bundle, args.format, args.output)
    print(f"{path}: {events} timeline events ({args.format})")
    return EXIT_OK


def _cmd_index(args: argparse.Namespace) -> int:
    path = args.path if args.path is not None else output_root(None, Config.load(args.config))
    with Catalog.open(args.catalog, config=args.config) as catalog:
        result = catalog.index(path)
    print(result)
    return EXIT_FAILED if result.refused else EXIT_OK


_COMMANDS = {
    "collect": _cmd_collect,
    "report": _cmd_report,
    "verify": _cmd_verify,
    "demo": _cmd_demo,
    "update": _cmd_update,
    "export": _cmd_export,
    "index": _cmd_index,
}


# The command line owns its process, and nothing it runs validates JSON-schema "iri"
# formats: without this, importing papermill (nbformat -> jsonschema) compiles
# rfc3987-syntax's grammar, ~1 s of every report command. jsonschema treats the
# module as absent and simply registers no "iri" checker.
_SKIPPED_OPTIONAL_MODULES = ("rfc3987_syntax",)


def main(argv: Sequence[str] | None = None) -> int:
    for name in _SKIPPED_OPTIONAL_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None marks a module absent
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (IntegrityError, ReportError) as exc:
        return _fail(args, exc, EXIT_FAILED)
    except (ConfigError, BundleError, SourceError) as exc:
        return _fail(args, exc, EXIT_USAGE)
    except ForensicsError as exc:
        return _fail(args, exc, EXIT_FAILED)
    except OSError as exc:  # an unusable path (/proc/nope, a file where a directory belongs)
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(args, OSError(f"{where}{exc.strerror or exc}"), EXIT_USAGE)


def _fail(args: argparse.Namespace, exc: BaseException, code: int) -> int:
    if args.debug or os.environ.get("EAFIX_DEBUG"):
        traceback.print_exc()
    message = " ".join(str(exc).split()) or type(exc).__name__
    print(f"eafix-forensics: error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
