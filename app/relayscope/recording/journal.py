"""The unsaved-calls journal: recording ops the database would not take, kept in a file beside
it (`relayscope.db-unsaved.ndjson`) until it takes them again.

During a storage outage (disk full, database locked by another program, I/O errors) the
recording writer appends each failed batch here instead of retrying one transaction that
grows with every batch, and keeps appending while the journal is not empty (so the order of
a call's ops is kept). Once the database answers again the journal is written back in
bounded batches; what is still here at exit is replayed at the next start.

One op per line, JSON; bytes are `{"$b": base64}` (JSON, not pickle: a file on disk must
never be able to run code). If the journal itself cannot be written (the same full disk),
ops are kept in memory up to `memory_limit` bytes, then dropped and counted.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from relayscope.recording.ops import Op, call_of

#: Ops written back per transaction: one transaction never grows with the outage.
REPLAY_BATCH = 2000


def journal_path(db_path: Path | str) -> Path:
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + "-unsaved.ndjson")


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$b": base64.b64encode(value).decode("ascii")}
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1 and "$b" in value:
            return base64.b64decode(value["$b"])
        return {k: _decode(v) for k, v in value.items()}
    return value


def dump_op(op: Op) -> bytes:
    return json.dumps(_encode(op), separators=(",", ":")).encode() + b"\n"


def load_op(line: bytes) -> Op:
    return tuple(_decode(json.loads(line)))


class Journal:
    """Ops waiting for the database, oldest first: in the file, then (if the file could not
    be written) in memory."""

    def __init__(self, path: Path, *, memory_limit: int = 64 * 1024 * 1024) -> None:
        self.path = path
        self.memory_limit = memory_limit
        self._memory: list[bytes] = []
        self._memory_bytes = 0
        self.lost_calls: set[str] = set()
        self.file_error: str | None = None
        self._in_file = path.exists() and path.stat().st_size > 0

    def __bool__(self) -> bool:
        return self._in_file or bool(self._memory)

    def append(self, ops: list[Op]) -> None:
        lines = [dump_op(op) for op in ops]
        if not self._memory:  # once memory holds some, later ops follow them there
            try:
                self._write(lines)
                self._in_file = True
                self.file_error = None
                return
            except OSError as exc:
                self.file_error = f"{self.path}: {exc.strerror or exc}"
        for op, line in zip(ops, lines, strict=True):
            if self._memory_bytes + len(line) > self.memory_limit:
                self.lost_calls.add(call_of(op))
                continue
            self._memory.append(line)
            self._memory_bytes += len(line)

    def _write(self, lines: list[bytes]) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            start = os.fstat(fd).st_size
            data = b"".join(lines)
            written = 0
            try:
                while written < len(data):
                    written += os.write(fd, data[written:])
            except OSError:
                # Half a batch would be read back as if it were whole: cut the file back.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                raise
        finally:
            os.close(fd)

    def batches(self, size: int = REPLAY_BATCH) -> Iterator[list[Op]]:
        """The ops in order, `size` at a time; call `done()` after all were written."""
        if self._in_file:
            batch: list[Op] = []
            with self.path.open("rb") as file:
                for line in file:
                    if not line.endswith(b"\n"):
                        break  # cut short by a crash mid-write: nothing after it is whole
                    with contextlib.suppress(ValueError):
                        batch.append(load_op(line))
                    if len(batch) >= size:
                        yield batch
                        batch = []
            if batch:
                yield batch
        for at in range(0, len(self._memory), size):
            yield [load_op(line) for line in self._memory[at : at + size]]

    def done(self) -> None:
        """Everything was written to the database: forget it."""
        self._memory.clear()
        self._memory_bytes = 0
        if self._in_file:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self._in_file = False

    def calls(self) -> int:
        """How many calls have ops waiting (read from the file: used at exit only)."""
        ids: set[str] = set()
        for batch in self.batches():
            ids.update(call_of(op) for op in batch)
        return len(ids)

    def keep_memory_in_file(self) -> None:
        """At exit: move what is in memory to the file if the file can now be written."""
        if not self._memory:
            return
        try:
            self._write(self._memory)
        except OSError as exc:
            self.file_error = f"{self.path}: {exc.strerror or exc}"
            return
        self._in_file = True
        self._memory.clear()
        self._memory_bytes = 0
