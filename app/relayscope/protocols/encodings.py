"""HTTP content codings (gzip, deflate, br, zstd): incremental, capped decoding.

zstd comes from the standard library's `compression.zstd` (Python 3.14) or its backport
`backports.zstd` (a declared dependency before 3.14; mitmproxy uses the same module). Every
decoder here is incremental, so a compressed stream can still be split into events and
timed as it arrives, and capped, so a small "bomb" cannot make gigabytes.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable
from typing import Final

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

#: The codings Relayscope decodes (what Accept-Encoding clients and providers use).
SUPPORTED: Final = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd"})


class DecodeLimitExceeded(ValueError):
    """Decoding would produce more than the cap allows."""


def normalise(encoding: str) -> str:
    """`" GZip "` → `"gzip"`; `""`/`"identity"` → `""`."""
    value = encoding.strip().lower()
    return "" if value == "identity" else value


class Decompressor:
    """Decodes one body or stream piece by piece, for one content coding.

    `limit` caps the total decoded size; past it `__call__` raises `DecodeLimitExceeded`
    (the bytes on the wire are never touched by this class, only our copy of them)."""

    def __init__(self, encoding: str, *, limit: int | None = None) -> None:
        encoding = normalise(encoding)
        self.encoding = encoding
        self.limit = limit
        self.produced = 0
        self._decode: Callable[[bytes], bytes]
        # The same, producing at most about `room` bytes (the rest of the input is dropped).
        self._bounded: Callable[[bytes, int], bytes]
        if encoding in ("gzip", "x-gzip", "deflate"):
            # 47 = automatic zlib or gzip header: servers send both under "deflate".
            inflater = zlib.decompressobj(wbits=47)
            self._decode = inflater.decompress
            self._bounded = inflater.decompress
        elif encoding == "br":
            import brotli  # type: ignore[import-untyped]  # a dependency of mitmproxy

            brotli_decoder = brotli.Decompressor()
            self._decode = brotli_decoder.process
            self._bounded = lambda data, room: brotli_decoder.process(
                data, output_buffer_limit=room
            )
        elif encoding == "zstd":
            zstd_decoder = zstd.ZstdDecompressor()
            self._decode = zstd_decoder.decompress
            self._bounded = lambda data, room: zstd_decoder.decompress(data, max_length=room)
        else:
            raise ValueError(f"unsupported content coding {encoding!r}")

    def __call__(self, data: bytes) -> bytes:
        out = self._decode(data)
        self.produced += len(out)
        if self.limit is not None and self.produced > self.limit:
            raise DecodeLimitExceeded(
                f"{self.encoding} body decodes to more than {self.limit:,} bytes"
            )
        return out

    def up_to(self, data: bytes, room: int) -> bytes:
        """Decode `data` but produce at most `room` more bytes: a 329-byte brotli body makes
        200 MB, so a cap must stop the decoder itself, not check its output afterwards.
        Once this returns `room` bytes the decoder is spent (call it no more)."""
        if room <= 0:
            return b""
        out = self._bounded(data, room)[:room]
        self.produced += len(out)
        return out


def decode(data: bytes, encoding: str, *, limit: int | None = None) -> bytes:
    """Decode a whole body. `encoding` may be a list (`"gzip, br"`: applied in that order,
    so undone in reverse). Raises ValueError for an unknown coding or corrupt data and
    `DecodeLimitExceeded` past `limit`."""
    codings = [c for c in (normalise(part) for part in encoding.split(",")) if c]
    for coding in reversed(codings):
        decompressor = Decompressor(coding, limit=limit)  # ValueError for an unknown coding
        try:
            data = decompressor(data)
        except DecodeLimitExceeded:
            raise
        except Exception as exc:  # zlib.error, zstd.ZstdError, brotli.error
            raise ValueError(f"corrupt {coding} body: {exc}") from exc
    return data


def encode(data: bytes, encoding: str) -> bytes:
    """Compress a whole body (for tests, replays and the demo provider)."""
    encoding = normalise(encoding)
    if encoding in ("gzip", "x-gzip"):
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
        return compressor.compress(data) + compressor.flush()
    if encoding == "deflate":
        return zlib.compress(data)
    if encoding == "br":
        import brotli

        return bytes(brotli.compress(data))
    if encoding == "zstd":
        return zstd.compress(data)
    if not encoding:
        return data
    raise ValueError(f"unsupported content coding {encoding!r}")
