"""The multipart/form-data reader: fields to route by, a summary of files, bounded work."""

from __future__ import annotations

import httpx

from relayscope.protocols import multipart

AUDIO = bytes(range(256)) * 4


def form(**files: tuple[str, bytes, str]) -> tuple[bytes, str]:
    request = httpx.Request(
        "POST", "http://x/v1/audio/transcriptions", data={"model": "whisper-1"}, files=files
    )
    return request.read(), request.headers["content-type"]


def test_fields_route_and_files_are_summed_up() -> None:
    body, content_type = form(file=("a.wav", AUDIO, "audio/wav"))
    info = multipart.request_info(body, content_type)
    assert info is not None and (info.model, info.stream, info.is_json) == (
        "whisper-1",
        False,
        False,
    )
    assert multipart.summary(body, content_type) == [
        {"name": "model", "value": "whisper-1"},
        {"name": "file", "filename": "a.wav", "content_type": "audio/wav", "size": len(AUDIO)},
    ]


def test_a_body_cut_at_the_size_limit_gives_the_whole_parts() -> None:
    body, content_type = form(file=("a.wav", AUDIO, "audio/wav"))
    parts = multipart.parse(body[: len(body) // 2], content_type)
    assert parts is not None and [p.name for p in parts] == ["model"]


def test_not_a_form_is_none_and_a_quoted_boundary_is_read() -> None:
    assert multipart.parse(b'{"model": "m"}', "application/json") is None
    assert multipart.parse(b"", "multipart/form-data") is None  # no boundary
    body = b'--a b\r\nContent-Disposition: form-data; name="model"\r\n\r\nm1\r\n--a b--\r\n'
    info = multipart.request_info(body, 'multipart/form-data; boundary="a b"')
    assert info is not None and info.model == "m1"


def test_parts_are_read_up_to_a_bound() -> None:
    part = b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n'
    parts = multipart.parse(
        part * (multipart.MAX_PARTS + 50) + b"--b--\r\n", "multipart/form-data; boundary=b"
    )
    assert parts is not None and len(parts) == multipart.MAX_PARTS
