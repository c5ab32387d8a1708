"""The unsaved-calls journal keeps ops in order, byte for byte, and never grows unbounded."""

from __future__ import annotations

from pathlib import Path

from relayscope.recording.journal import Journal, journal_path

START = (0, {"id": "c1", "request_body": b"\xff\x00 not utf-8", "stream": 1})
CHUNK = (1, "c1", 0, 12.5, b"data: {}\n\n", "{}", None, None)
FINISH = (2, "c1", {"status": 200, "response_body": b'{"a": 1}'})


def test_ops_come_back_in_order_and_byte_for_byte(tmp_path: Path) -> None:
    path = journal_path(tmp_path / "relayscope.db")
    assert path.name == "relayscope.db-unsaved.ndjson"
    journal = Journal(path)
    assert not journal
    journal.append([START, CHUNK])
    journal.append([FINISH])
    assert journal and path.stat().st_mode & 0o777 == 0o600
    again = Journal(path)  # as the next start finds it
    assert [op for batch in again.batches(size=2) for op in batch] == [START, CHUNK, FINISH]
    assert [len(batch) for batch in again.batches(size=2)] == [2, 1]
    assert again.calls() == 1
    again.done()
    assert not again and not path.exists()


def test_a_line_cut_short_by_a_crash_is_left_out(tmp_path: Path) -> None:
    path = tmp_path / "j.ndjson"
    journal = Journal(path)
    journal.append([START])
    with path.open("ab") as file:
        file.write(b'[1,"c1",0')  # the process died mid-write
    assert [op for batch in Journal(path).batches() for op in batch] == [START]


def test_when_the_file_cannot_be_written_memory_holds_a_bounded_amount(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "missing-folder" / "j.ndjson", memory_limit=400)
    journal.append([START, CHUNK])
    assert journal.file_error is not None and "missing-folder" in journal.file_error
    journal.append([(0, {"id": f"c{n}", "request_body": b"x" * 100}) for n in range(2, 10)])
    kept = [op for batch in journal.batches() for op in batch]
    assert kept[:2] == [START, CHUNK] and len(kept) < 10
    assert journal.lost_calls and "c9" in journal.lost_calls
