"""The proxy worker process: a lean mitmproxy master with Relayscope's addons.

`relayscope proxy` runs this. It prints one line once it accepts connections and, with
`events=True`, one NDJSON line per recording event (for the desktop app).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import errno
import gc
import json
import logging
import os
import signal
import socket
import sqlite3
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from mitmproxy import master, options
from mitmproxy.addons import core, next_layer, proxyserver, tlsconfig

from relayscope.actions.playback import PlaybackError, PlaybackSet, load_recordings
from relayscope.config import DEMO, PLAYBACK, Config, default_data_dir
from relayscope.exchange.otlp_target import OtlpError, resolve_target
from relayscope.proxy import hook_dispatch
from relayscope.proxy.addons import errors, limits
from relayscope.proxy.addons.breakpoints import Holder, RequestBreakpoints, ResponseBreakpoints
from relayscope.proxy.addons.call_ids import ChosenCallIds
from relayscope.proxy.addons.local_guard import LocalGuard
from relayscope.proxy.addons.recorder import Recorder
from relayscope.proxy.addons.router import Router
from relayscope.proxy.addons.watchdog import Watchdog
from relayscope.proxy.addons.websocket_recorder import WebSocketRecorder
from relayscope.proxy.servers.demo import DemoServer
from relayscope.proxy.servers.local_server import LocalServer
from relayscope.proxy.servers.playback import PlaybackServer
from relayscope.recording.messages import Event, Failed, FailureCode
from relayscope.recording.process import RecordingProcess
from relayscope.recording.writer import Recording, prepare_database
from relayscope.store import retention
from relayscope.store.call_store import CallStore, StoreError

if TYPE_CHECKING:
    from relayscope.exchange.otlp_forward import OtlpForwarder

log = logging.getLogger("relayscope")


class WorkerError(Exception):
    """Startup failed for a reason a person can fix (port in use, unwritable database).

    `code` says which for the app (`recording.messages.Failed`); the message is the sentence."""

    def __init__(self, message: str, code: FailureCode = "other", port: int | None = None):
        super().__init__(message)
        self.code: FailureCode = code
        self.port = port

    def event(self) -> Failed:
        failed: Failed = {"event": "failed", "code": self.code, "message": str(self)}
        if self.port is not None:
            failed["port"] = self.port
        return failed


@dataclass(frozen=True, slots=True)
class PlaybackOptions:
    call_ids: tuple[str, ...] = ()
    session_id: str | None = None
    match: str = "messages"
    speed: float = 1.0


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    config: Config
    db_path: Path
    host: str
    port: int
    events: bool = False
    parent_pipe: bool = False
    confdir: Path | None = None
    playback: PlaybackOptions | None = None


class EventPrinter:
    """Writes NDJSON events to stdout (the desktop app reads them); thread-safe."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        if self.enabled:
            self._write(json.dumps(event, separators=(",", ":")) + "\n")

    def line(self, text: str) -> None:
        self._write(text + "\n")

    def write(self, ndjson: str) -> None:
        """Event lines made elsewhere (the recording process), passed on whole."""
        if self.enabled:
            self._write(ndjson)

    def _write(self, text: str) -> None:
        with self._lock:
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):
                pass  # stdout gone (parent closed the pipe): nothing to tell anyone


def check_port_free(host: str, port: int) -> None:
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise WorkerError(
                    f"Port {port} on {host} is in use by another program; stop it or choose "
                    f"another port (--port, or [proxy] port in the config).",
                    "port_in_use",
                    port,
                ) from exc
            raise WorkerError(
                f"Cannot listen on {host}:{port} ({exc.strerror}).", "cannot_listen", port
            ) from exc


def _apply_retention(settings: WorkerSettings) -> None:
    """`[storage] keep_days`, before recording starts. No VACUUM (the start would wait; new
    recordings reuse the freed pages), and not `max_size_mb`: without VACUUM, pages that
    deleted rows left half empty still count, and each start would delete a little more."""
    days = settings.config.storage.keep_days
    if days is None:
        return
    try:
        if not retention.due(settings.db_path, older_than_days=days, max_size_mb=None):
            return
        result = retention.prune(settings.db_path, older_than_days=days, vacuum=False)
    except sqlite3.Error as exc:
        log.warning("Could not apply [storage] keep_days to %s (%s).", settings.db_path, exc)
        return
    log.info(
        "[storage] keep_days: deleted %d calls older than %g days; new recordings reuse "
        "their space (`relayscope prune --max-size` with VACUUM gives it back to the disk).",
        result.calls,
        days,
    )


#: The provider of a playback worker: every model goes to the recordings.
PLAYBACK_ALL = replace(PLAYBACK, default=True, models=("*",))


async def run_worker(settings: WorkerSettings, out: TextIO = sys.stdout) -> int:
    """Run until SIGINT/SIGTERM (or stdin EOF with parent_pipe); return the exit status.

    A start that fails raises `WorkerError` after a `failed` event with its code."""
    # At exit, everything the worker made is still in memory, and the interpreter's last
    # full collections walk all of it: ~0.3 s of CPU after the last call was written (a
    # nice'd worker on a loaded machine took 5-6 s to exit). Frozen objects are skipped;
    # nothing is lost: by then the recording process has written and exited, and stdout,
    # stderr and the log are flushed (atexit's other handlers still run).
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    printer = EventPrinter(out, settings.events)
    try:
        return await _run_worker(settings, printer)
    except WorkerError as exc:
        printer.emit(exc.event())
        raise


async def _run_worker(settings: WorkerSettings, printer: EventPrinter) -> int:
    check_port_free(settings.host, settings.port)
    limits.raise_open_file_limit()  # a few hundred idle clients must not lock everyone out
    # Read every key once now (keyring look-ups can block), never on the event loop later.
    settings.config.secrets()
    try:
        prepare_database(settings.db_path)  # unwritable or corrupt: say so before listening
    except StoreError as exc:
        raise WorkerError(str(exc), "database") from exc
    if settings.playback is None:
        _apply_retention(settings)
    forwarder = _otlp_forwarder(settings, printer)
    try:
        writer = RecordingProcess(
            settings.db_path,
            on_lines=_event_relay(printer, forwarder),
            on_error=lambda message: printer.emit({"event": "record_error", "message": message}),
        ).open(asyncio.get_running_loop())  # batches sent from the loop: no GIL hand-over
    except OSError as exc:
        raise WorkerError(f"Cannot start the recording process ({exc}).", "recorder") from exc
    errors.install()
    limits.install()
    servers: dict[str, LocalServer] = {}
    config = settings.config
    try:
        if settings.playback is not None:
            playback = await asyncio.to_thread(_load_playback, settings)
            servers[PLAYBACK.name] = PlaybackServer(playback)
            # Recordings answer every model, demo ones included (the live demo must not answer
            # for them), and the model list is theirs alone: nothing leaves the machine.
            config = replace(config, providers=(PLAYBACK_ALL,))
        elif config.provider(DEMO.name) is not None:
            servers[DEMO.name] = DemoServer()
        local_ports = {}
        for name, server in servers.items():
            await server.start()
            local_ports[name] = server.port
        return await _serve(replace(settings, config=config), writer, local_ports, printer)
    finally:
        for server in servers.values():
            await server.stop()
        writer.close()
        if forwarder is not None:
            await asyncio.to_thread(forwarder.close)
        printer.emit({"event": "stopped"})


def _event_relay(
    printer: EventPrinter, forwarder: OtlpForwarder | None
) -> Callable[[bytes], None] | None:
    """Where the recording process's NDJSON event lines go: to stdout as they are, and the
    finished calls to the OpenTelemetry exporter. None when nobody wants them."""
    if not printer.enabled and forwarder is None:
        return None

    def relay(lines: bytes) -> None:
        if printer.enabled:
            printer.write(lines.decode("utf-8", "replace"))
        if forwarder is not None and b'"call_finished"' in lines:
            forwarder.on_commit([json.loads(line) for line in lines.splitlines() if line])

    return relay


def _otlp_forwarder(settings: WorkerSettings, printer: EventPrinter) -> OtlpForwarder | None:
    try:  # [otlp] endpoint, else the standard OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT
        target = resolve_target(settings.config.otlp)
    except OtlpError as exc:
        raise WorkerError(str(exc), "config") from exc
    if target is None:
        return None
    log.info("Exporting calls as OpenTelemetry spans to %s", target.traces_url)
    from relayscope.exchange.otlp_forward import OtlpForwarder  # the SDK: imported only when wanted

    def report(message: str) -> None:
        log.warning("OpenTelemetry export: %s", message)
        printer.emit({"event": "otlp_error", "message": message})

    from relayscope.analysis.cost import Pricer

    pricer = Pricer.from_config(settings.config)  # spans carry each call's cost
    return OtlpForwarder(settings.db_path, target, on_error=report, pricer=pricer)


def _load_playback(settings: WorkerSettings) -> PlaybackSet:
    options = settings.playback
    assert options is not None
    try:
        store = CallStore(settings.db_path)
        try:
            recordings = load_recordings(
                store, call_ids=options.call_ids, session_id=options.session_id
            )
        finally:
            store.close()
    except PlaybackError as exc:
        raise WorkerError(str(exc), "playback") from exc
    except StoreError as exc:
        raise WorkerError(str(exc), "database") from exc
    return PlaybackSet(recordings, match=options.match, speed=options.speed)


async def _serve(
    settings: WorkerSettings,
    writer: Recording,
    local_ports: dict[str, int],
    printer: EventPrinter,
) -> int:
    confdir = settings.confdir or default_data_dir() / "mitmproxy"
    opts = options.Options(confdir=str(confdir))
    mitm = master.Master(opts, with_termlog=False)
    hook_dispatch.cache_dispatch(mitm.addons)  # our addon tree is fixed: look hooks up once
    # Only the core addons we need: every loaded addon is called for every hook.
    mitm.addons.add(
        core.Core(), proxyserver.Proxyserver(), next_layer.NextLayer(), tlsconfig.TlsConfig()
    )
    opts.update(
        listen_host=settings.host,
        listen_port=settings.port,
        # The target is replaced per request by the Router; lazy means it is never dialled.
        mode=["reverse:http://127.0.0.1:9"],
        connection_strategy="lazy",
        # Record the Host the client sent; the Router's target rewrite sets the upstream's.
        keep_host_header=True,
    )
    holder = Holder(printer.emit, writer)
    limits.quiet_resource_errors(asyncio.get_running_loop())
    mitm.addons.add(
        Chain(
            LocalGuard(settings.config),  # first: refuses browser pages before any key is added
            ChosenCallIds(settings.db_path),
            Router(settings.config, local_ports),
            limits.IdleClients(_client_idle_seconds()),  # after the Router: sees its refusals
            Watchdog(),
            WebSocketRecorder(writer),
            ResponseBreakpoints(holder),  # before the Recorder: an edited answer is recorded
            Recorder(writer, max_body_bytes=settings.config.proxy.max_body_bytes),
            RequestBreakpoints(holder),  # after the Recorder: a held call shows as pending
            _Announcer(mitm, printer, settings),
        )
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, mitm.shutdown)
    if settings.parent_pipe:
        _read_parent_pipe(mitm, holder)
    await mitm.run()
    ps = mitm.addons.get("proxyserver")
    ok = bool(ps and ps.listen_addrs())
    if ps is not None:
        await ps.servers.update([])  # master.shutdown() leaves the socket open otherwise
    return 0 if ok else 1


def _client_idle_seconds() -> float:
    """`RELAYSCOPE_CLIENT_IDLE_SECONDS` overrides how long an idle client connection stays open."""
    value = os.environ.get("RELAYSCOPE_CLIENT_IDLE_SECONDS", "")
    try:
        seconds = float(value)
    except ValueError:
        return limits.CLIENT_IDLE_SECONDS
    return seconds if seconds > 0 else limits.CLIENT_IDLE_SECONDS


class Chain:
    """Our addons as children of one: mitmproxy then makes one dispatch pass per hook for all
    of them instead of one each (measured: about 10% of the proxy's CPU per request). The
    children run in order, so a hook that raised would skip the ones after it: ours never
    raise on bad traffic."""

    def __init__(self, *addons: object) -> None:
        self.addons = list(addons)


class _Announcer:
    """Prints the listening line once the server accepts connections (or explains why not)."""

    def __init__(self, mitm: master.Master, printer: EventPrinter, settings: WorkerSettings):
        self.mitm = mitm
        self.printer = printer
        self.settings = settings

    def running(self) -> None:
        ps = self.mitm.addons.get("proxyserver")
        addrs = ps.listen_addrs() if ps else []
        if not addrs:
            message = (
                f"Relayscope could not listen on {self.settings.host}:{self.settings.port};"
                " see the message above."
            )
            self.printer.emit(
                {
                    "event": "failed",
                    "code": "cannot_listen",
                    "message": message,
                    "port": self.settings.port,
                }
            )
            print(message, file=sys.stderr)
            self.mitm.shutdown()
            return
        host, port = addrs[0][0], addrs[0][1]
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{port}/v1"
        self.printer.emit({"event": "listening", "url": url, "host": host, "port": port})
        self.printer.line(f"Relayscope listening on {url}")


def _read_parent_pipe(mitm: master.Master, holder: Holder) -> None:
    """Commands from the app arrive as NDJSON on stdin; end of file means the app is gone."""
    loop = asyncio.get_running_loop()

    def read() -> None:
        # os.read, not sys.stdin: a daemon thread blocked inside the buffered reader holds
        # its lock, and the interpreter aborts when it finds it held at exit.
        pending = b""
        with contextlib.suppress(OSError):
            while chunk := os.read(0, 65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    _dispatch(line)
        mitm.shutdown()

    def _dispatch(line: bytes) -> None:
        try:
            command = json.loads(line)
        except ValueError:
            return
        if isinstance(command, dict):
            loop.call_soon_threadsafe(holder.command, command)

    threading.Thread(target=read, name="parent-pipe", daemon=True).start()
