"""Request bodies stored as shared pieces: what an agent resends every turn is stored once.

An agent resends its whole conversation each turn, so its request bodies are mostly the
previous body plus a little. A body of `PIECES_FROM` bytes or more is cut after each JSON
object in an array (before `,{` or `]`: messages, input items, tools), each piece is
stored once in `body_pieces` under its BLAKE2b hash (large ones zstd-compressed), and
the call keeps only the list of its piece ids (`calls.request_pieces`, `request_body` NULL).
Joining the pieces gives the body back byte for byte: the cut points are byte positions,
nothing is parsed or re-serialised. Plain sqlite3 only: the recording process uses this.

`request_pieces` is zstd of the ids' differences as little-endian int64 (`_pack`).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import sys
from array import array
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

#: Bodies from this size on are stored as pieces (smaller ones stay in `request_body`).
PIECES_FROM = 4096
#: Pieces are merged until they reach this size: fewer rows.
MIN_PIECE = 512
#: Pieces from this size on are zstd-compressed (when that saves 10 %). Each compressed piece
#: costs ~16 µs of CPU to decode whatever its size (a decoder's context and a frame's tables;
#: zlib and brotli cost more): from 4 KiB (an agent's tool outputs, not its small messages)
#: the 60-turn session's pieces take half the room, and reading a 200-turn body (134
#: compressed pieces) takes ~3.4 ms of CPU instead of ~1 (docs/benchmarks.md).
COMPRESS_FROM = 4096
# After an object that another object or the array's end follows: an item keeps the same
# bytes (`,{...}`) whether it is the conversation's last item or has followers.
_CUT = re.compile(rb"\}(?=\s*(?:,\s*\{|\]))")
_RAW, _ZSTD = 0, 1


def cut(body: bytes) -> list[bytes]:
    """`body` in pieces whose concatenation is `body`; the same content gives the same cuts."""
    pieces: list[bytes] = []
    start = 0
    for match in _CUT.finditer(body):
        end = match.end()
        if end - start >= MIN_PIECE:
            pieces.append(body[start:end])
            start = end
    pieces.append(body[start:])
    return pieces


def _digest(piece: bytes) -> bytes:
    return hashlib.blake2b(piece, digest_size=16).digest()


def _pack(ids: Sequence[int]) -> bytes:
    deltas = array("q", [ids[0], *(b - a for a, b in pairwise(ids))])
    if sys.byteorder == "big":
        deltas.byteswap()  # pragma: no cover
    return zstd.compress(deltas.tobytes())


def _unpack(packed: bytes) -> list[int]:
    deltas = array("q")
    deltas.frombytes(zstd.decompress(packed))
    if sys.byteorder == "big":
        deltas.byteswap()  # pragma: no cover
    ids: list[int] = []
    total = 0
    for delta in deltas:
        total += delta
        ids.append(total)
    return ids


def store(conn: sqlite3.Connection, body: bytes) -> bytes:
    """Store `body`'s pieces that are not stored yet; returns its `request_pieces` value.

    Run it inside the write transaction that stores the call (a piece found here is then
    not removed by `relayscope prune` before the call that uses it is committed)."""
    pieces = cut(body)
    digests = [_digest(piece) for piece in pieces]
    known = _ids_of(conn, set(digests))
    for digest, piece in zip(digests, pieces, strict=True):
        if digest not in known:
            known[digest] = _insert(conn, digest, piece)
    return _pack([known[d] for d in digests])


def _ids_of(conn: sqlite3.Connection, digests: set[bytes]) -> dict[bytes, int]:
    found: dict[bytes, int] = {}
    wanted = list(digests)
    for start in range(0, len(wanted), 500):
        batch = wanted[start : start + 500]
        marks = ", ".join("?" for _ in batch)
        rows = conn.execute(f"SELECT hash, id FROM body_pieces WHERE hash IN ({marks})", batch)
        found.update((bytes(h), int(i)) for h, i in rows)
    return found


def _insert(conn: sqlite3.Connection, digest: bytes, piece: bytes) -> int:
    packed = zstd.compress(piece, 3) if len(piece) >= COMPRESS_FROM else piece
    codec = _ZSTD if len(packed) < len(piece) * 0.9 else _RAW
    cursor = conn.execute(
        "INSERT INTO body_pieces (hash, codec, size, data) VALUES (?, ?, ?, ?)",
        (digest, codec, len(piece), packed if codec == _ZSTD else piece),
    )
    return int(cursor.lastrowid or 0)


def load(conn: sqlite3.Connection, packed: bytes) -> bytes:
    """The body whose `request_pieces` is `packed`, byte for byte."""
    ids = _unpack(packed)
    stored: dict[int, tuple[int, bytes]] = {}
    unique = list(set(ids))
    for start in range(0, len(unique), 500):
        batch = unique[start : start + 500]
        marks = ", ".join("?" for _ in batch)
        for piece_id, codec, blob in conn.execute(
            f"SELECT id, codec, data FROM body_pieces WHERE id IN ({marks})", batch
        ):
            stored[piece_id] = (codec, bytes(blob))
    missing = [i for i in unique if i not in stored]
    if missing:
        raise LookupError(f"{len(missing)} pieces of a stored request body are missing")
    pieces = (stored[i] for i in ids)
    return b"".join(zstd.decompress(blob) if codec == _ZSTD else blob for codec, blob in pieces)


def piece_ids(packed: bytes) -> list[int]:
    """The piece ids a `request_pieces` value refers to (for pruning)."""
    return _unpack(packed)


def restore(conn: sqlite3.Connection, row: dict[str, Any]) -> dict[str, Any]:
    """`row` (a calls row) with `request_body` as recorded, however it is stored."""
    if "request_pieces" not in row:
        return row
    packed = row.pop("request_pieces")
    if packed is not None:
        body = load(conn, packed)
        try:
            row["request_body"] = body.decode("utf-8")  # as RecordingWriter stored it
        except UnicodeDecodeError:
            row["request_body"] = body
    return row


def restore_all(conn: sqlite3.Connection, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [restore(conn, row) for row in rows]
