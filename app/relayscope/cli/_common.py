"""What every `relayscope` command shares: the --config/--db options, the context a command runs
in, opening the recording database, and how a failure becomes one line and an exit code.

Exit codes: 0 done, 1 failed (the database, the network, a provider), 2 a mistake in the command
line or its input, 130 cancelled with Ctrl+C, 141 standard output closed (`| head`).

Imported by every command module to build the parser: only the standard library and light
`app.core` modules here; heavy ones are imported where they are used.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from relayscope.calls.record import CallRecord
from relayscope.calls.safe_text import visible
from relayscope.config import Config, default_config_path, default_db_path

if TYPE_CHECKING:
    from relayscope.analysis.cost import Pricer, TokenUsage
    from relayscope.store.call_store import CallStore

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a tool that a closed pipe ended

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class Context:
    """What every command gets besides its arguments: the loaded config and the database."""

    config: Config
    db_path: Path


class Command(Protocol):
    """A command module: `add_parser` adds its subparser, `run` carries it out."""

    def add_parser(self, sub: Subparsers) -> None: ...

    def run(self, args: argparse.Namespace, ctx: Context) -> int: ...


class UsageError(Exception):
    """A mistake in the command line or its input files; the message says what to fix."""


def add_common_options(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """--config and --db. Subcommands repeat them without defaults, so `relayscope --db X proxy`
    works too."""
    default = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--config",
        type=Path,
        default=default,
        help=f"config file (TOML); default: {default_config_path()}",
    )
    parser.add_argument(
        "--db", type=Path, default=default, help=f"recording database; default: {default_db_path()}"
    )


def fail(message: object, code: int = EXIT_FAILED) -> int:
    """Says `relayscope: MESSAGE` on standard error; returns the exit code."""
    print(f"relayscope: {message}", file=sys.stderr)
    return code


def open_store(db_path: Path) -> CallStore | None:
    """The recording database for a CLI command, or None after saying why it cannot open."""
    from relayscope.store.call_store import CallStore, StoreError

    try:
        return CallStore(db_path, create=False)
    except StoreError as exc:
        fail(visible(exc))
        return None


def with_store(
    db_path: Path,
    action: Callable[[CallStore], int],
    *,
    failures: tuple[type[Exception], ...] = (),
) -> int:
    """Runs `action` on the opened database and closes it. A StoreError (an unknown id, a
    database that is not there) and the command's own `failures` are one line and exit 1, a
    UsageError exit 2."""
    from relayscope.store.call_store import StoreError

    store = open_store(db_path)
    if store is None:
        return EXIT_FAILED
    try:
        return action(store)
    except UsageError as exc:
        return fail(exc, EXIT_USAGE)
    except StoreError as exc:
        return fail(visible(exc))
    except failures as exc:
        return fail(exc)
    finally:
        store.close()


def row_json(row: CallRecord, pricer: Pricer | None = None) -> dict[str, Any]:
    """A recorded row for JSON output: bytes as text, a multipart form summed up (a file's bytes
    are never mangled into U+FFFD), and with a pricer its cost (`usd` null when unknown) and the
    price's source. A plain dict: it is what `json.dumps` writes, and its values differ from
    the row's types (a form's parts, the cost object)."""
    from relayscope.protocols import multipart

    out = {k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else v) for k, v in row.items()}
    form = multipart.call_form(row)
    if form is not None:
        out["request_body"] = form
    return out if pricer is None else out | {"cost": pricer.price(row).as_json()}


def base_url(config: Config) -> str:
    """The proxy's base URL from the config's [proxy] (a wildcard address reached on loopback)."""
    host = config.proxy.host
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.proxy.port}/v1"


def token_header(config: Config) -> list[tuple[str, str]]:
    """The access token a remote-listening proxy wants, as a header (none without one)."""
    from relayscope.routing.routes import TOKEN_HEADER

    token = config.proxy.access_token
    return [(TOKEN_HEADER, token)] if token else []


def proxy_running(url: str) -> bool:
    """Whether the proxy answers at `url`; if not, says so and how to start it."""
    from relayscope.actions.replay import proxy_reachable

    if proxy_reachable(url):
        return True
    fail(
        f"the proxy is not running at {url}; start it with `relayscope proxy` (or open the app), "
        "or point --url at it."
    )
    return False


def call_by_prefix(store: CallStore, prefix: str) -> CallRecord:
    """A recorded call by its id or a unique prefix (a StoreError says which is wrong)."""
    call = store.get_call(store.resolve_id(prefix))
    assert call is not None
    return call


def clean(text: object) -> str:
    """Recorded text made safe for a terminal: control characters shown as \\xNN."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, the last one an ellipsis when it was longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def token_columns(t: TokenUsage) -> str:
    """Input, cached, output and reasoning tokens in the columns of `sessions` and `costs`."""
    return (
        f"{t.input_tokens:>9,} {t.cache_read_tokens:>9,} {t.output_tokens:>8,} "
        f"{t.reasoning_tokens:>7,}"
    )
