"""`relayscope export` (HAR, JSONL, fine-tuning JSONL, OTLP) and `relayscope import` (HAR)."""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from relayscope.analysis.cost import Pricer
    from relayscope.config import OtlpSettings
    from relayscope.exchange.export import ExportResult, Selection
    from relayscope.store.call_store import CallStore

FORMATS = ("har", "jsonl", "finetune", "otlp")
_PROGRESS_FROM = 200  # calls; smaller exports finish before a progress line is worth it


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: Callable[[argparse.ArgumentParser], None],
) -> None:
    export = sub.add_parser(
        "export", help="export recorded calls as HAR, JSONL, fine-tuning JSONL or OTLP spans"
    )
    common(export)
    export.add_argument("--format", required=True, choices=FORMATS, help="what to write")
    export.add_argument(
        "-o", "--output", type=Path, help="file to write (default: standard output)"
    )
    export.add_argument(
        "--ids", nargs="+", metavar="ID", help="only these calls (unique id prefixes work)"
    )
    export.add_argument("--search", default="", help="only calls matching this full-text search")
    export.add_argument("--errors", action="store_true", help="only failed or interrupted calls")
    export.add_argument("--provider", default="", help="only calls routed to this provider")
    export.add_argument("--model", default="", help="only calls for this model")
    export.add_argument(
        "--endpoint",
        help="OTLP/HTTP collector for --format otlp, e.g. http://127.0.0.1:4318 "
        "(default: the config's [otlp] endpoint, then $OTEL_EXPORTER_OTLP_ENDPOINT)",
    )

    imported = sub.add_parser("import", help="import OpenAI-format API calls from a HAR file")
    common(imported)
    imported.add_argument("file", type=Path, help="the HAR file")
    imported.add_argument(
        "--all-entries",
        action="store_true",
        help="import every entry, not only OpenAI-format API calls",
    )


def run(
    args: argparse.Namespace,
    db_path: Path,
    otlp: OtlpSettings | None = None,
    pricer: Pricer | None = None,
) -> int:
    """`otlp`: the config's [otlp], where `--format otlp` sends without `--endpoint`;
    `pricer`: prices each exported call with the config's overrides."""
    try:
        if args.command == "import":
            return _import(args, db_path)
        return _export(args, db_path, otlp, pricer)
    except KeyboardInterrupt:
        print("relayscope: cancelled.", file=sys.stderr)
        return 130


# --- export --------------------------------------------------------------------------------


def _export(
    args: argparse.Namespace, db_path: Path, otlp: OtlpSettings | None, pricer: Pricer | None
) -> int:
    from relayscope.analysis.cost import Pricer
    from relayscope.config import OtlpSettings
    from relayscope.store.call_store import CallStore, StoreError

    otlp = otlp or OtlpSettings()
    problem = _export_problem(args, otlp)
    if problem:
        print(f"relayscope: {problem}", file=sys.stderr)
        return 2
    try:
        store = CallStore(db_path, create=False)
    except StoreError as exc:
        print(f"relayscope: {exc}", file=sys.stderr)
        return 1
    try:
        selection = _selection(store, args)
        result = _export_from(store, args, selection, otlp, pricer or Pricer())
    except (StoreError, _Failed) as exc:
        print(f"relayscope: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = args.output or "standard output"
        print(f"relayscope: cannot write {where} ({exc.strerror or exc}).", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(result.summary(), file=sys.stderr)
    return 0


class _Failed(Exception):
    """An export that could not finish, with a sentence for the person."""


def _export_problem(args: argparse.Namespace, otlp: OtlpSettings) -> str | None:
    if args.ids and (args.search or args.errors or args.provider or args.model):
        return "choose calls either by --ids or by --search/--errors/--provider/--model."
    if args.format == "otlp":
        if args.output:
            return "--format otlp sends spans to --endpoint; it writes no --output file."
        if not (
            args.endpoint
            or otlp.endpoint
            or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        ):
            return "--format otlp needs --endpoint URL (e.g. http://127.0.0.1:4318)."
    elif args.endpoint:
        return "--endpoint is only for --format otlp."
    return None


def _selection(store: CallStore, args: argparse.Namespace) -> Selection:
    from relayscope.exchange.export import Selection
    from relayscope.store.call_store import CallFilter

    if args.ids:
        return Selection(ids=tuple(store.resolve_id(prefix) for prefix in args.ids))
    flt = CallFilter(
        text=args.search, errors_only=args.errors, provider=args.provider, model=args.model
    )
    return Selection(filter=flt)


def _export_from(
    store: CallStore,
    args: argparse.Namespace,
    selection: Selection,
    settings: OtlpSettings,
    pricer: Pricer,
) -> ExportResult:
    from relayscope.exchange import export, otlp

    progress = _Progress()
    if args.format == "otlp":
        try:
            # --endpoint, else the config's [otlp], else the standard variables (the SDK reads
            # OTEL_EXPORTER_OTLP_HEADERS and the rest), as for the proxy.
            target = otlp.resolve_target(settings, endpoint=args.endpoint)
            if target is None:
                raise _Failed("OTEL_SDK_DISABLED=true: no span was sent.")
            return otlp.export_calls_otlp(
                store, target, selection, on_progress=progress, pricer=pricer
            )
        except otlp.OtlpError as exc:
            raise _Failed(str(exc)) from exc
        finally:
            progress.end()
    try:
        if args.output is None:
            if isinstance(sys.stdout, io.TextIOWrapper):
                sys.stdout.reconfigure(encoding="utf-8")  # JSON is UTF-8, whatever the locale
            return export.export_calls(
                store, args.format, sys.stdout, selection, on_progress=progress, pricer=pricer
            )
        return export.export_to_path(
            store, args.format, args.output, selection, on_progress=progress, pricer=pricer
        )
    finally:
        progress.end()


class _Progress:
    """`exporting 1,234/10,000 calls` on stderr, for big exports to a terminal."""

    def __init__(self) -> None:
        self.shown = False
        self.on = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if self.on and total >= _PROGRESS_FROM:
            print(f"\rexporting {done:,}/{total:,} calls", end="", file=sys.stderr, flush=True)
            self.shown = True

    def end(self) -> None:
        if self.shown:
            print(file=sys.stderr)


# --- import --------------------------------------------------------------------------------


def _import(args: argparse.Namespace, db_path: Path) -> int:
    from relayscope.exchange.har_import import HarImportError, import_har
    from relayscope.store.call_store import StoreError

    try:
        result = import_har(args.file, db_path, all_entries=args.all_entries)
    except (HarImportError, StoreError) as exc:
        print(f"relayscope: {exc}", file=sys.stderr)
        return 1
    print(result.summary())
    return 0
