"""A finished stream's chunks stored as one compressed pack: each chunk kept byte for byte
with its arrival time, at a tenth of the room of a row per chunk.

While a call is live its chunks are rows of `chunks` (the app reads them as they arrive).
When it ends, the recorder moves them, in the same transaction, into one `chunk_packs` row:
an agent's answers are streams of small, repetitive events (a Responses stream's
`response.output_text.delta` events repeat the same ~250 bytes of JSON around each word),
which compress ~12× together and not at all one by one, and a row per chunk costs its key
twice (table and index). `read` gives back exactly what the rows held, in order; rows not
packed yet (a live call, a database recorded before schema m015) are read as they are, so
a reader never needs to know where a chunk is. Plain sqlite3 only: the recording process
uses this.

A pack is one zstd frame: a little-endian u32 header length, the header (JSON), then the
chunks' data concatenated. The header holds, per chunk in order: `len` (bytes of data),
`kind` (one letter each: `t` TEXT, `b` BLOB, `n` NULL), arrival times as whole-microsecond
differences (`dt`, when every time is a whole number of microseconds, as the recorder
rounds them) or as they are (`t`, JSON floats round-trip exactly), `seq` (or only `seq0`
when they are consecutive) and `dir` (only when some chunk has a direction).
"""

from __future__ import annotations

import json
import sqlite3
import struct
import sys
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

#: zstd level: 3 packs a 48-event Responses stream of 16 KB into ~1 KB in ~60 µs; 19 saves
#: a tenth more for 30× the CPU (docs/benchmarks.md).
LEVEL = 3

Chunk = dict[str, Any]  # seq, t_ms, data, direction: a row of `chunks`
_HEADER = struct.Struct("<I")


def encode(chunks: Sequence[Chunk]) -> bytes:
    """One pack of `chunks` (ordered by seq)."""
    seqs = [int(c["seq"]) for c in chunks]
    payload: list[bytes] = []
    kinds: list[str] = []
    for chunk in chunks:
        data = chunk["data"]
        if data is None:
            kinds.append("n")
            payload.append(b"")
        elif isinstance(data, str):
            kinds.append("t")
            payload.append(data.encode("utf-8"))
        else:
            kinds.append("b")
            payload.append(bytes(data))
    header: dict[str, Any] = {"len": [len(p) for p in payload], "kind": "".join(kinds)}
    first = seqs[0] if seqs else 0
    if seqs == list(range(first, first + len(seqs))):
        header["seq0"] = first
    else:
        header["seq"] = seqs
    times = [c["t_ms"] for c in chunks]
    micros = _micros(times)
    if micros is not None:
        header["dt"] = [b - a for a, b in pairwise([0, *micros])]
    else:
        header["t"] = times
    directions = [c.get("direction") for c in chunks]
    if any(d is not None for d in directions):
        header["dir"] = directions
    head = json.dumps(header, separators=(",", ":")).encode()
    return zstd.compress(_HEADER.pack(len(head)) + head + b"".join(payload), LEVEL)


def _micros(times: Sequence[Any]) -> list[int] | None:
    """`times` (ms) as whole microseconds, if each is exactly one; else None."""
    out: list[int] = []
    for t in times:
        if not isinstance(t, float | int) or isinstance(t, bool):
            return None
        try:
            us = round(t * 1000)
        except (OverflowError, ValueError):  # inf, nan
            return None
        if us / 1000 != t:
            return None
        out.append(us)
    return out


def decode(pack: bytes) -> list[Chunk]:
    """The chunks of a pack, as `encode` was given them (t_ms as floats)."""
    raw = zstd.decompress(pack)
    (size,) = _HEADER.unpack_from(raw)
    start = _HEADER.size + size
    header = json.loads(raw[_HEADER.size : start])
    lengths: list[int] = header["len"]
    count = len(lengths)
    seqs = header.get("seq") or range(header.get("seq0", 0), header.get("seq0", 0) + count)
    if "dt" in header:
        times: list[float] = []
        total = 0
        for delta in header["dt"]:
            total += delta
            times.append(total / 1000)
    else:
        times = header["t"]
    directions = header.get("dir") or [None] * count
    chunks: list[Chunk] = []
    view = memoryview(raw)
    for seq, t_ms, length, kind, direction in zip(
        seqs, times, lengths, header["kind"], directions, strict=True
    ):
        piece = view[start : start + length]
        start += length
        data: str | bytes | None
        if kind == "t":
            data = str(piece, "utf-8")
        elif kind == "b":
            data = bytes(piece)
        else:
            data = None
        chunks.append({"seq": seq, "t_ms": t_ms, "data": data, "direction": direction})
    if start != len(raw):
        raise ValueError("a chunk pack's data does not match its header")
    return chunks


def read(conn: sqlite3.Connection, call_id: str, *, after: int | None = None) -> list[Chunk]:
    """A call's chunks in order of seq (those with seq > `after` only, if given), packed or
    not: rows of `chunks` not packed yet come in at their place (a row replaces a packed
    chunk of the same seq, as INSERT OR REPLACE would have)."""
    found = conn.execute("SELECT pack FROM chunk_packs WHERE call_id = ?", (call_id,)).fetchone()
    packed = decode(found[0]) if found is not None else []
    sql = "SELECT seq, t_ms, data, direction FROM chunks WHERE call_id = ?"
    params: list[Any] = [call_id]
    if after is not None:
        sql += " AND seq > ?"
        params.append(after)
        packed = [c for c in packed if c["seq"] > after]
    rows = [
        {"seq": s, "t_ms": t, "data": d, "direction": r}
        for s, t, d, r in conn.execute(sql + " ORDER BY seq", params)
    ]
    if not packed:
        return rows
    if not rows:
        return packed
    return _merged(packed, rows)


def _merged(packed: Iterable[Chunk], rows: Iterable[Chunk]) -> list[Chunk]:
    by_seq = {c["seq"]: c for c in packed}
    by_seq.update((c["seq"], c) for c in rows)
    return [by_seq[seq] for seq in sorted(by_seq)]


def pack(conn: sqlite3.Connection, call_id: str) -> int:
    """Move the call's chunk rows into its pack (merged with what is packed already);
    returns how many rows moved. Run it inside a write transaction: packing the same call
    again (a journal written back twice) changes nothing."""
    rows = conn.execute(
        "SELECT seq, t_ms, data, direction FROM chunks WHERE call_id = ? ORDER BY seq",
        (call_id,),
    ).fetchall()
    if not rows:
        return 0
    chunks = [{"seq": s, "t_ms": t, "data": d, "direction": r} for s, t, d, r in rows]
    found = conn.execute("SELECT pack FROM chunk_packs WHERE call_id = ?", (call_id,)).fetchone()
    if found is not None:
        chunks = _merged(decode(found[0]), chunks)
    size = sum(_size(c["data"]) for c in chunks)
    conn.execute(
        "INSERT OR REPLACE INTO chunk_packs (call_id, count, size, pack) VALUES (?, ?, ?, ?)",
        (call_id, len(chunks), size, encode(chunks)),
    )
    conn.execute("DELETE FROM chunks WHERE call_id = ?", (call_id,))
    return len(rows)


def _size(data: str | bytes | None) -> int:
    if data is None:
        return 0
    return len(data.encode("utf-8")) if isinstance(data, str) else len(data)
