"""The `playback` provider: recorded calls served again, with their original timing and faults.

Like the demo provider it is a small server on the proxy's own loop, so played-back calls
take the same routing, streaming and recording path as real ones. Responses are written as
raw HTTP/1.1 so a recorded cut stream can be cut again at the same chunk.
"""

from __future__ import annotations

import asyncio
import json
import logging
from http import HTTPStatus

import h11

from relayscope.actions.playback import Miss, PlaybackSet, Recording, delays
from relayscope.protocols.openai_format import endpoint_of
from relayscope.proxy.addons.errors import error_body
from relayscope.proxy.servers.local_server import LocalServer
from relayscope.routing.quirks import strip_usage

log = logging.getLogger(__name__)


class PlaybackServer(LocalServer):
    """Answers each request with the recording that matches it, or a 404 that says why not."""

    def __init__(self, playback: PlaybackSet) -> None:
        super().__init__()
        self.playback = playback

    async def answer(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, request: h11.Request, body: bytes
    ) -> bool:
        return await self._answer(writer, request, body)

    async def _answer(
        self, writer: asyncio.StreamWriter, request: h11.Request, body: bytes
    ) -> bool:
        path = request.target.decode("latin-1")
        endpoint = endpoint_of(path)
        if request.method == b"GET" and endpoint == "models":
            await _write(writer, 200, [("content-type", "application/json")], self._models())
            return True
        try:
            parsed = json.loads(body) if body else None
        except (ValueError, RecursionError):
            parsed = None
        found = self.playback.find(endpoint, parsed if isinstance(parsed, dict) else None)
        if isinstance(found, list):
            await _write(
                writer,
                404,
                [("content-type", "application/json")],
                _no_match_body(found, self.playback.match),
            )
            return True
        if found.streamed:
            return await self._stream(writer, found)
        await asyncio.sleep(float(found.call.get("duration_ms") or 0) / 1000 / self.playback.speed)
        answer = found.call.get("response_body") or b""
        data = answer.encode() if isinstance(answer, str) else bytes(answer)
        if found.cut():
            writer.write(_head(found.status(), found.headers(), len(data) + 1) + data)
            await writer.drain()
            return False  # fewer bytes than announced: cut, as it was
        await _write(writer, found.status(), found.headers(), data)
        return True

    async def _stream(self, writer: asyncio.StreamWriter, found: Recording) -> bool:
        headers = [*found.headers(), ("transfer-encoding", "chunked")]
        waits = delays(found.chunks, self.playback.speed)
        hidden = found.hid_usage()
        for index, (wait, chunk) in enumerate(zip(waits, found.chunks, strict=True)):
            await asyncio.sleep(wait)
            data = chunk["data"]
            raw: bytes | None = data.encode() if isinstance(data, str) else bytes(data)
            if hidden and raw is not None:
                raw = strip_usage(raw)  # as the client saw it when it was recorded
            if raw is None:
                continue
            head = _head(found.status(), headers, None) if index == 0 else b""
            writer.write(head + b"%x\r\n%b\r\n" % (len(raw), raw))
            await writer.drain()
        if found.cut():
            return False  # no terminating chunk: the client sees the stream cut, as recorded
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    def _models(self) -> bytes:
        models = sorted(
            {str(r.call.get("model")) for r in self.playback.recordings if r.call.get("model")}
        )
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "relayscope-playback"}
            for m in models
        ]
        return json.dumps({"object": "list", "data": data}).encode()


def _head(status: int, headers: list[tuple[str, str]], length: int | None) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Status"
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if length is not None:
        lines.append(f"content-length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


async def _write(
    writer: asyncio.StreamWriter, status: int, headers: list[tuple[str, str]], body: bytes
) -> None:
    writer.write(_head(status, headers, len(body)) + body)
    await writer.drain()


def _no_match_body(misses: list[Miss], match: str) -> bytes:
    closest = "; ".join(f"{m.call_id}: {m.reason}" for m in misses) or "no recordings loaded"
    message = (
        f"No recorded call matches this request (matching on {match}). "
        f"Closest: {closest}. Record it first, or play back with a looser --match."
    )
    return error_body(404, "playback_no_match", message)
