"""Compressed request bodies (Content-Encoding gzip, deflate, br, zstd) through the real worker:
forwarded as they came, routed and recorded decoded. The openai SDK cannot compress a
request, so httpx sends bodies compressed by hand, as Codex and some proxies do."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import brotli  # type: ignore[import-untyped]
import httpx
import pytest

from relayscope.protocols.encodings import zstd
from tests.fakes.provider import FakeProvider
from tests.support.worker import WorkerProcess, marked, recorded

BODY = {"model": "other-1", "messages": [{"role": "user", "content": "squeeze me " * 40}]}


def compress(data: bytes, coding: str) -> bytes:
    """Each coding made with its own library, not with Relayscope's encoder."""
    if coding == "gzip":
        packer = zlib.compressobj(6, zlib.DEFLATED, 31)
        return packer.compress(data) + packer.flush()
    if coding == "deflate":
        return zlib.compress(data)
    if coding == "br":
        return bytes(brotli.compress(data))
    return zstd.compress(data)


def two_providers(tmp_path: Path) -> Iterator[tuple[FakeProvider, FakeProvider, WorkerProcess]]:
    """Two providers: `main` the default, `other` for `other-*` models."""
    with (
        FakeProvider(name="main") as main,
        FakeProvider(name="other") as other,
        WorkerProcess(
            tmp_path,
            f'[[providers]]\nname = "main"\nbase_url = "{main.base_url}"\ndefault = true\n'
            f'[[providers]]\nname = "other"\nbase_url = "{other.base_url}"\n'
            'models = ["other-*"]\n',
        ) as worker,
    ):
        yield main, other, worker


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[FakeProvider, FakeProvider, WorkerProcess]]:
    yield from two_providers(tmp_path)


@pytest.fixture(scope="module")
def shared_two(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[FakeProvider, FakeProvider, WorkerProcess]]:
    """`two` for the codings' cases (a worker start costs seconds): each case finds its call
    by a marked path; none of them reaches `main`."""
    yield from two_providers(tmp_path_factory.mktemp("codings"))


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_a_compressed_body_is_routed_forwarded_as_it_came_and_recorded_decoded(
    shared_two: tuple[FakeProvider, FakeProvider, WorkerProcess], coding: str
) -> None:
    main, other, worker = shared_two
    plain = json.dumps(BODY).encode()
    wire = compress(plain, coding)
    path = marked("/v1/chat/completions")
    answer = httpx.post(
        worker.base_url.removesuffix("/v1") + path,
        content=wire,
        headers={"content-type": "application/json", "content-encoding": coding},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert main.requests == []  # routed by the model inside the compressed body
    received = other.requests[-1]
    assert received.path == path
    assert received.body == wire  # the provider got the very bytes, and the header
    assert received.headers["content-encoding"] == coding
    assert received.json() == BODY
    row = recorded(worker, path)
    assert (row["provider"], row["model"], row["state"]) == ("other", "other-1", "complete")
    assert json.loads(row["request_body"]) == BODY  # readable, searchable
    assert row["request_size"] == len(wire) < len(plain)  # the bytes on the wire
    assert f"request body compressed with {coding}; recorded decoded" in json.loads(row["quirks"])
    assert row["output_text"] == answer.json()["choices"][0]["message"]["content"]


def test_a_body_that_does_not_decode_is_refused_with_a_sentence(
    two: tuple[FakeProvider, FakeProvider, WorkerProcess],
) -> None:
    main, other, worker = two
    answer = httpx.post(
        worker.base_url + "/chat/completions",
        content=b"\x1f\x8b this is not gzip at all",
        headers={"content-type": "application/json", "content-encoding": "gzip"},
        timeout=30,
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_content_encoding"
    assert "Content-Encoding: gzip but does not decode" in error["message"]
    assert main.requests == other.requests == []  # neither provider could have read it
    (row,) = worker.wait_for_calls(1)
    assert (row["status"], row["state"], row["provider"]) == (400, "error", "relayscope")


def test_a_compressed_body_relayscope_changes_is_sent_uncompressed(
    two: tuple[FakeProvider, FakeProvider, WorkerProcess],
) -> None:
    """`main/other-1` names the provider: the model is rewritten, so the body must change."""
    main, _, worker = two
    body = {**BODY, "model": "main/other-1"}
    answer = httpx.post(
        worker.base_url + "/chat/completions",
        content=compress(json.dumps(body).encode(), "gzip"),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    received = main.requests[-1]
    assert "content-encoding" not in received.headers
    assert json.loads(received.body) == BODY
    (row,) = worker.wait_for_calls(1)
    assert json.loads(row["request_body"]) == body  # what the client sent, decoded
    assert json.loads(row["upstream_request_body"]) == BODY
    assert "request body changed, so sent uncompressed" in json.loads(row["quirks"])
