"""WorkerProcess: runs the proxy worker as a child process and turns its NDJSON into signals."""

from __future__ import annotations

import collections
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

from PySide6.QtCore import QMetaMethod, QObject, QProcess, QProcessEnvironment, QTimer, Signal

import relayscope
from relayscope.recording.messages import (
    CALL_EVENTS,
    CallEvent,
    Command,
    Event,
    Failed,
    encode,
    parse_events,
)

log = logging.getLogger(__name__)

#: Seconds after closing stdin before SIGTERM, and before SIGKILL.
TERMINATE_AFTER = 3.0
KILL_AFTER = 6.0

_STDERR_TAIL = 40
#: At most this many event lines, or this long, per pass on the UI thread: when the window
#: falls behind, the worker's stdout holds thousands of lines, and handling them all at once
#: froze the window for up to ~235 ms. The rest waits for the next turn of the event loop.
SLICE_LINES = 500
SLICE_SECONDS = 0.008
#: Lines parsed in one go (`parse_events`) and their call events signalled together
#: (`calls_changed`); the slice's clock is read between batches.
BATCH_LINES = 100


class WorkerProcess(QObject):
    """The `relayscope proxy` (or `relayscope playback`) child process, seen as Qt signals.

    Signals:
        state_changed(str): `starting`, `listening`, `stopped` or `failed`.
        listening(str): the base URL clients use (``http://127.0.0.1:8787/v1``).
        failed(str): why the proxy is not running, as a sentence a person can act on.
        calls_changed(list): the call events of a batch of lines, in order: each a
            `call_started`, `call_updated` or `call_finished` event as the worker printed
            it (`recording.messages`). Several events a call, hundreds of calls a second:
            one signal for a batch costs its slot one call instead of one per event.
        call_started(str): a call's row was committed (id).
        call_updated(str, dict): a live call changed (id, changed fields such as chunk_count).
        call_finished(str, dict): a call ended (id, final fields).
            These three say the same as `calls_changed`, one event each, after it; they
            are emitted only while something is connected to them.
        record_error(str): recording failed (message), or works again (empty string).
        call_held(dict): a breakpoint holds a call (the event: id, stage, rule, provider,
            model, endpoint, status, body, timeout).
        call_released(str, str): a held call went on (id, stage), decided or timed out.
        breakpoints_set(int): the worker took the breakpoint rules (how many).
        command_error(str): the worker rejected a command (why).

    The worker's stdin stays open as the "parent pipe": if this process dies, the pipe
    closes and the worker exits, so no port is ever left held. `send_command` writes the
    app's NDJSON commands to it (README, Breakpoints).
    """

    state_changed = Signal(str)
    listening = Signal(str)
    failed = Signal(str)
    calls_changed = Signal(object)  # not Signal(list): PySide would copy the list's items
    call_started = Signal(str)
    call_updated = Signal(str, dict)
    call_finished = Signal(str, dict)
    record_error = Signal(str)
    call_held = Signal(dict)
    call_released = Signal(str, str)
    breakpoints_set = Signal(int)
    command_error = Signal(str)

    def __init__(
        self,
        db_path: Path,
        config_path: Path | None = None,
        parent: QObject | None = None,
        *,
        host: str | None = None,
        subcommand: str = "proxy",
        extra_args: Sequence[str] = (),
    ) -> None:
        super().__init__(parent)
        self.db_path = Path(db_path)
        self.config_path = Path(config_path) if config_path is not None else None
        self.host = host
        #: `proxy`, or `playback` (then `extra_args` names the calls: `--call ID ...`).
        self.subcommand = subcommand
        #: Appended to the command line; read at each start, so it may change between runs.
        self.extra_args: list[str] = list(extra_args)
        self._state = "stopped"
        self._url = ""
        self._port = 0
        # Stdout not handled yet: complete lines waiting for their turn, and a partial one.
        self._stdout_lines: collections.deque[bytes] = collections.deque()
        self._stdout_buffer = b""
        self._draining = False
        self._calls: list[CallEvent] = []  # call events not signalled yet (`_emit_calls`)
        self._one_by_one = [
            QMetaMethod.fromSignal(signal)
            for signal in (self.call_started, self.call_updated, self.call_finished)
        ]
        self._stderr_buffer = b""
        self._stderr_tail: list[str] = []
        self._failure_event: Failed | None = None
        self._restart_port: int | None = None
        self._stopping = False
        self._process: QProcess | None = None
        self._terminate_timer = self._single_shot(TERMINATE_AFTER, self._terminate)
        self._kill_timer = self._single_shot(KILL_AFTER, self._kill)
        self._next_slice = self._single_shot(0.0, self._drain_stdout)

    # -- public API ---------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._state

    @property
    def url(self) -> str:
        """The base URL while listening, else an empty string."""
        return self._url

    @property
    def port(self) -> int:
        """The port asked for (or, once listening, the real one)."""
        return self._port

    @property
    def failure_code(self) -> str:
        """Why the last run failed, as the worker's code (`recording.messages.FailureCode`),
        or an empty string when it did not say (or did not fail)."""
        return self._failure_event["code"] if self._failure_event is not None else ""

    def is_running(self) -> bool:
        return self._process is not None

    def command(self, port: int) -> list[str]:
        """The worker's command line (docs/ui-contract.md)."""
        if getattr(sys, "frozen", False):  # a packaged app: the binary is the CLI
            args = [sys.executable, self.subcommand]
        else:
            args = [sys.executable, "-m", "relayscope", self.subcommand]
        args += ["--events", "--parent-pipe", "--db", str(self.db_path.resolve())]
        if self.config_path is not None and self.config_path.exists():
            args += ["--config", str(self.config_path.resolve())]
        if self.host:
            args += ["--host", self.host]
        return [*args, "--port", str(port), *self.extra_args]

    def send_command(self, command: Command) -> bool:
        """Write one NDJSON command to the worker's stdin; False if no worker takes it now.

        QProcess writes as the event loop runs: a GUI thread blocked after this call (a
        test joining a thread) delays the command until it returns to the loop.
        """
        process = self._process
        if process is None or self._stopping:
            return False
        data = encode(command).encode("utf-8")
        return process.write(data) == len(data)

    def start(self, port: int) -> None:
        """Start the worker on `port` (0 = any free port). A no-op if it is already running."""
        if self._process is not None:
            return
        self._port = port
        self._restart_port = None
        self._reset_buffers()
        process = QProcess(self)
        process.setProcessEnvironment(self._environment())
        process.readyReadStandardOutput.connect(self._on_process_stdout)
        process.readyReadStandardError.connect(self._on_process_stderr)
        process.finished.connect(self._on_process_finished)
        process.errorOccurred.connect(self._on_process_error_occurred)
        self._process = process
        self._set_state("starting")
        program, *args = self.command(port)
        process.start(program, args)

    def stop(self) -> None:
        """Ask the worker to exit (close its stdin); SIGTERM after 3 s, SIGKILL after 6 s."""
        self._restart_port = None
        self._begin_stop()

    def restart(self, port: int) -> None:
        """Stop the worker if it runs, then start it on `port`."""
        if self._process is None:
            self.start(port)
            return
        self._begin_stop()
        self._restart_port = port

    def stop_and_wait(self, timeout: float = KILL_AFTER) -> None:
        """Stop synchronously (when the app quits): the same escalation, blocking."""
        process = self._process
        self._restart_port = None
        if process is None:
            return
        self._begin_stop()
        step = int(timeout * 1000 / 2)
        if not process.waitForFinished(step):
            process.terminate()
            if not process.waitForFinished(step):
                process.kill()
                process.waitForFinished(1000)

    # -- process plumbing ---------------------------------------------------------------

    def _environment(self) -> QProcessEnvironment:
        env = QProcessEnvironment.systemEnvironment()
        # `python -m relayscope` must find both halves of the namespace package (app/ and
        # proxy_addons/) even when it is not installed.
        roots = [str(Path(part).resolve().parent) for part in relayscope.__path__]
        existing = env.value("PYTHONPATH", "")
        env.insert("PYTHONPATH", os.pathsep.join([*roots, *([existing] if existing else [])]))
        env.insert("PYTHONUNBUFFERED", "1")
        return env

    def _begin_stop(self) -> None:
        process = self._process
        if process is None or self._stopping:
            return
        self._stopping = True
        process.closeWriteChannel()
        self._terminate_timer.start()
        self._kill_timer.start()

    def _terminate(self) -> None:
        if self._process is not None:
            self._process.terminate()

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()

    def _single_shot(self, seconds: float, slot: Callable[[], None]) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(int(seconds * 1000))
        timer.timeout.connect(slot)
        return timer

    def _reset_buffers(self) -> None:
        self._stdout_lines = collections.deque()
        self._stdout_buffer = b""
        self._stderr_buffer = b""
        self._stderr_tail = []
        self._failure_event = None
        self._stopping = False
        self._url = ""

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)

    def _on_process_stdout(self) -> None:
        if self._process is not None:
            self._feed_stdout(bytes(self._process.readAllStandardOutput().data()))

    def _on_process_stderr(self) -> None:
        if self._process is not None:
            self._feed_stderr(bytes(self._process.readAllStandardError().data()))

    def _feed_stdout(self, data: bytes) -> None:
        """Take the worker's output; its lines are handled in order, one slice now."""
        self._split_stdout(data)
        self._drain_stdout()

    def _split_stdout(self, data: bytes) -> None:
        # Split once as it comes (C speed, in proportion to what was read), handled later.
        if b"\n" in data:
            *lines, self._stdout_buffer = (self._stdout_buffer + data).split(b"\n")
            self._stdout_lines.extend(lines)
        else:
            self._stdout_buffer += data

    def _drain_stdout(self, *, whole: bool = False) -> None:
        """Handle the waiting lines, at most SLICE_LINES or SLICE_SECONDS of them unless
        `whole`; what is left goes on at the next turn of the event loop, so the window
        paints and takes input between slices. Lines are never dropped or reordered.

        Slices on this thread rather than parsing on another: what costs is the slots the
        events reach (the call list's model), which must run here anyway, and a line takes
        microseconds to parse; a thread would add a hand-over and take the GIL besides.
        """
        if self._draining:  # a slot ran the event loop: the pass under way keeps the order
            return
        self._draining = True
        lines = self._stdout_lines
        deadline = time.perf_counter() + SLICE_SECONDS
        handled = 0
        try:
            while lines and (whole or handled < SLICE_LINES):
                take = min(len(lines), BATCH_LINES)
                if not whole:
                    take = min(take, SLICE_LINES - handled)
                handled += take
                self._handle_lines([lines.popleft().strip() for _ in range(take)])
                if not whole and time.perf_counter() >= deadline:
                    break
        finally:
            self._draining = False
        if lines and lines is self._stdout_lines:
            self._next_slice.start()

    def _feed_stderr(self, data: bytes) -> None:
        self._stderr_buffer += data
        *lines, self._stderr_buffer = self._stderr_buffer.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                log.debug("worker: %s", line)
                self._stderr_tail = [*self._stderr_tail[-_STDERR_TAIL + 1 :], line]

    def _handle_lines(self, lines: list[bytes]) -> None:
        # "Relayscope listening on ..." and anything else that is not an event is None.
        for event in parse_events(lines):
            if event is not None:
                self._dispatch(event)
        self._emit_calls()

    def _dispatch(self, event: Event) -> None:
        """Handle one event: a call's waits for the batch's `calls_changed` (`_emit_calls`),
        any other is signalled at once, after the call events before it."""
        if event["event"] in CALL_EVENTS:
            self._calls.append(cast(CallEvent, event))
            return
        self._emit_calls()
        if event["event"] == "listening":
            self._url = event["url"]
            self._port = event["port"] or self._port
            self._set_state("listening")
            self.listening.emit(self._url)
        elif event["event"] == "record_error":
            self.record_error.emit(event["message"] or "")
        elif event["event"] == "call_held":
            self.call_held.emit(event)
        elif event["event"] == "call_released":
            self.call_released.emit(event["id"], event["stage"])
        elif event["event"] == "breakpoints_set":
            self.breakpoints_set.emit(event["count"])
        elif event["event"] == "command_error":
            self.command_error.emit(event["message"])
        elif event["event"] == "failed":
            self._failure_event = event

    def _emit_calls(self) -> None:
        if not self._calls:
            return
        events, self._calls = self._calls, []
        self.calls_changed.emit(events)
        if not any(self.isSignalConnected(signal) for signal in self._one_by_one):
            return
        for event in events:
            if event["event"] == "call_started":
                self.call_started.emit(event["id"])
            else:
                fields = {k: v for k, v in event.items() if k not in ("event", "id")}
                signal = (
                    self.call_updated if event["event"] == "call_updated" else self.call_finished
                )
                signal.emit(event["id"], fields)

    def _on_process_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        process = self._process
        if process is None:
            return
        # Everything the worker said before it ended is handled now, in one go: the state
        # and the failure message below depend on its last events.
        self._split_stdout(bytes(process.readAllStandardOutput().data()) + b"\n")
        self._next_slice.stop()
        self._drain_stdout(whole=True)
        self._feed_stderr(bytes(process.readAllStandardError().data()) + b"\n")
        stopping = self._stopping
        self._terminate_timer.stop()
        self._kill_timer.stop()
        self._process = None
        self._url = ""
        process.deleteLater()
        crashed = exit_status == QProcess.ExitStatus.CrashExit
        if stopping or (exit_code == 0 and not crashed and self._failure_event is None):
            self._set_state("stopped")
        else:
            self._fail(self._failure_message(exit_code, crashed))
        if self._restart_port is not None:
            port, self._restart_port = self._restart_port, None
            self.start(port)

    def _on_process_error_occurred(self, error: QProcess.ProcessError) -> None:
        if error != QProcess.ProcessError.FailedToStart or self._process is None:
            return
        process, self._process = self._process, None
        process.deleteLater()
        program = self.command(self._port)[0]
        self._fail(
            f"Relayscope could not start its proxy ({program}: {process.errorString()}); "
            "reinstall Relayscope or run `relayscope proxy` in a terminal to see why."
        )

    def _fail(self, message: str) -> None:
        self._set_state("failed")
        self.failed.emit(message)

    def _failure_message(self, exit_code: int, crashed: bool) -> str:
        """The worker's own sentence (its last `relayscope:` stderr line, else its `failed`
        event's), made GUI-friendly where the event's code calls for the app's own words."""
        failed = self._failure_event
        if failed is not None and failed["code"] == "port_in_use":
            port = failed.get("port", self._port)
            return (
                f"Port {port} is in use by another program — "
                "choose another port above and press Apply."
            )
        reason = ""
        for line in reversed(self._stderr_tail):
            if line.startswith("relayscope:"):
                reason = line.removeprefix("relayscope:").strip()
                break
        reason = reason or (failed["message"] if failed is not None else "")
        if reason:
            return reason
        how = "crashed" if crashed else f"exited with status {exit_code}"
        last = self._stderr_tail[-1] if self._stderr_tail else "no message"
        return (
            f"The proxy {how} ({last}). Press Start to try again; "
            "if it keeps failing, run `relayscope proxy` in a terminal to see the full log."
        )
