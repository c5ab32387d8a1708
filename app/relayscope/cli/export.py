"""`relayscope export`: recorded calls as HAR, JSONL, fine-tuning JSONL or OTLP spans."""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from relayscope.cli._common import (
    EXIT_CANCELLED,
    EXIT_USAGE,
    Context,
    add_common_options,
    fail,
    open_store,
)

if TYPE_CHECKING:
    from relayscope.analysis.cost import Pricer
    from relayscope.cli._common import Subparsers
    from relayscope.config import OtlpSettings
    from relayscope.exchange.export import ExportResult, Selection
    from relayscope.store.call_store import CallStore

FORMATS = ("har", "jsonl", "finetune", "otlp")
_PROGRESS_FROM = 200  # calls; smaller exports finish before a progress line is worth it


def add_parser(sub: Subparsers) -> None:
    export = sub.add_parser(
        "export", help="export recorded calls as HAR, JSONL, fine-tuning JSONL or OTLP spans"
    )
    add_common_options(export)
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


def run(args: argparse.Namespace, ctx: Context) -> int:
    """`--format otlp` sends where --endpoint says, else the config's [otlp]; each exported
    call is priced with the config's overrides."""
    from relayscope.analysis.cost import Pricer

    try:
        return _export(args, ctx.db_path, ctx.config.otlp, Pricer.from_config(ctx.config))
    except KeyboardInterrupt:
        return fail("cancelled.", EXIT_CANCELLED)


def _export(args: argparse.Namespace, db_path: Path, otlp: OtlpSettings, pricer: Pricer) -> int:
    from relayscope.store.call_store import StoreError

    problem = _export_problem(args, otlp)
    if problem:
        return fail(problem, EXIT_USAGE)
    store = open_store(db_path)
    if store is None:
        return 1
    try:
        selection = _selection(store, args)
        result = _export_from(store, args, selection, otlp, pricer)
    except (StoreError, _Failed) as exc:
        return fail(exc)
    except BrokenPipeError:
        raise  # standard output closed (`| head`): quiet, see relayscope.cli.main
    except OSError as exc:
        where = args.output or "standard output"
        return fail(f"cannot write {where} ({exc.strerror or exc}).")
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
