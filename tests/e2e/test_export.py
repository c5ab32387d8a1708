"""Export and import end to end: the real worker records, the real CLI exports and imports."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openai
import pytest

from relayscope.store.call_store import CallStore
from tests.e2e.conftest import FAKE_KEY
from tests.exchange.test_export import har_problems
from tests.fakes.provider import FakeProvider
from tests.support.otlp_collector import Collector, attributes, by_call
from tests.support.worker import ROOT, WorkerProcess, provider_config

CLIENT_KEY = "sk-client-key-abcdefgh1234"
AZURE_KEY = "azure-client-secret-9876zyxw"
ANTHROPIC_KEY = "sk-ant-client-secret-5555"
KEYS = (FAKE_KEY, CLIENT_KEY, AZURE_KEY, ANTHROPIC_KEY)
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Export me"}]


def relayscope(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relayscope", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def record_calls(worker: WorkerProcess) -> list[dict[str, Any]]:
    """A stream, a plain call, a Responses stream and a 429, with keys in three headers."""
    headers = {"api-key": AZURE_KEY, "x-api-key": ANTHROPIC_KEY}
    with openai.OpenAI(
        base_url=worker.base_url, api_key=CLIENT_KEY, max_retries=0, default_headers=headers
    ) as client:
        stream = client.chat.completions.create(
            model="fake-1",
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
        assert list(stream)
        client.chat.completions.create(model="fake-1", messages=MESSAGES)  # type: ignore[arg-type]
        assert list(client.responses.create(model="fake-1", input="Export me", stream=True))
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="fail-429", messages=MESSAGES)  # type: ignore[arg-type]
    return worker.wait_for_calls(4)


@pytest.fixture(scope="module")
def worker(shared_worker: WorkerProcess) -> WorkerProcess:
    """One worker for the module: the export tests only read what it recorded."""
    return shared_worker


@pytest.fixture(scope="module")
def recorded(worker: WorkerProcess) -> list[dict[str, Any]]:
    """The four calls every export test reads, recorded once (no test writes to the database)."""
    return record_calls(worker)


def test_jsonl_export_matches_the_database_row_by_row(
    worker: WorkerProcess, recorded: list[dict[str, Any]], tmp_path: Path
) -> None:
    out = tmp_path / "calls.jsonl"
    done = relayscope("export", "--db", worker.db_path, "--format", "jsonl", "--output", out)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == f"Exported 4 calls as jsonl to {out}."
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    store = worker.store()
    try:
        assert [line["id"] for line in lines] == [row["id"] for row in recorded]
        for line in lines:
            row = {k: v for k, v in line.items() if k not in ("chunks", "cost")}
            assert row == store.get_call(line["id"])
            assert line["chunks"] == store.chunks(line["id"])
    finally:
        store.close()
    stream = lines[0]
    assert stream["stream"] == 1 and len(stream["chunks"]) == stream["chunk_count"] > 3


def test_har_export_opens_as_har_and_imports_back_the_same_calls(
    worker: WorkerProcess, recorded: list[dict[str, Any]], tmp_path: Path
) -> None:
    har = tmp_path / "calls.har"
    done = relayscope("export", "--db", worker.db_path, "--format", "har", "-o", har)
    assert done.returncode == 0, done.stderr
    document = json.loads(har.read_text())
    assert har_problems(document) == []
    stream_entry = document["log"]["entries"][0]
    assert stream_entry["response"]["content"]["mimeType"].startswith("text/event-stream")
    assert stream_entry["request"]["url"].startswith(worker.base_url.removesuffix("/v1"))

    fresh = tmp_path / "fresh.db"
    done = relayscope("import", "--db", fresh, har)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Imported 4 calls from 4 HAR entries."
    before, after = worker.store(), CallStore(fresh, create=False)
    try:
        for row in recorded:
            original = before.get_call(row["id"])
            copy = after.get_call(row["id"])
            assert original is not None and copy is not None
            assert copy.pop("transport") == "har-import"
            original.pop("transport")
            assert copy == original
            assert after.chunks(row["id"]) == before.chunks(row["id"])
    finally:
        before.close()
        after.close()

    again = relayscope("import", "--db", fresh, har)
    assert again.stdout.strip().endswith("skipped 4 (4 already in the database).")


def test_finetune_export_says_what_it_skipped(
    worker: WorkerProcess, recorded: list[dict[str, Any]], tmp_path: Path
) -> None:
    out = tmp_path / "train.jsonl"
    done = relayscope("export", "--db", worker.db_path, "--format", "finetune", "-o", out)
    assert done.returncode == 0, done.stderr
    assert "skipped 1 (1 failed or interrupted)" in done.stderr
    examples = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(examples) == 3
    for example in examples:
        *prompt, answer = example["messages"]
        assert prompt[-1] == {"role": "user", "content": "Export me"}
        assert answer["role"] == "assistant" and answer["content"]


def test_otlp_export_to_a_collector_and_filters(
    worker: WorkerProcess, recorded: list[dict[str, Any]]
) -> None:
    with Collector() as collector:
        done = relayscope(
            "export", "--db", worker.db_path, "--format", "otlp", "--endpoint", collector.endpoint
        )
        assert done.returncode == 0, done.stderr
        errors_only = relayscope(
            "export",
            "--db",
            worker.db_path,
            "--format",
            "otlp",
            "--errors",
            "--endpoint",
            collector.endpoint + "/v1/traces",
        )
        assert errors_only.returncode == 0, errors_only.stderr
        config = worker.tmp / "otlp.toml"
        config.write_text(
            f'[otlp]\nendpoint = "{collector.endpoint}"\ncapture_content = true\n'
            'headers = { x-team = "blue" }\n'
        )
        from_config = relayscope(
            "--config", config, "export", "--db", worker.db_path, "--format", "otlp", "--ids",
            recorded[1]["id"],
        )  # fmt: skip
        assert from_config.returncode == 0, from_config.stderr
    assert collector.posts[-1].headers["x-team"] == "blue"
    (configured,) = collector.posts[-1].request().resource_spans[0].scope_spans[0].spans
    assert json.loads(attributes(configured)["gen_ai.input.messages"])[-1]["parts"] == [
        {"type": "text", "content": "Export me"}
    ]
    spans = collector.spans()[:5]
    assert len(spans) == 5  # four calls, then the failed one again
    names = [span.name for span in spans[:4]]
    assert names == ["chat fake-1", "chat fake-1", "chat fake-1", "chat fail-429"]
    failed = attributes(spans[4])
    assert (failed["error.type"], failed["relayscope.call_id"]) == ("429", recorded[3]["id"])
    stream = spans[0]
    assert len(stream.events) == recorded[0]["chunk_count"]
    assert attributes(stream)["gen_ai.provider.name"] == "openai"
    assert "gen_ai.input.messages" not in attributes(stream)  # content is opt-in


def test_exports_select_by_id_prefix_and_write_to_stdout(
    worker: WorkerProcess, recorded: list[dict[str, Any]]
) -> None:
    wanted = recorded[1]["id"]
    done = relayscope("export", "--db", worker.db_path, "--format", "jsonl", "--ids", wanted[:15])
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert json.loads(line)["id"] == wanted


def test_no_key_leaves_in_an_export(
    worker: WorkerProcess, recorded: list[dict[str, Any]], tmp_path: Path
) -> None:
    for fmt in ("har", "jsonl", "finetune"):
        out = tmp_path / f"calls.{fmt}"
        done = relayscope("export", "--db", worker.db_path, "--format", fmt, "-o", out)
        assert done.returncode == 0, done.stderr
        text = out.read_text()
        for key in KEYS:
            assert key not in text, (fmt, key)
            assert key[:-4] not in text, (fmt, key)  # not even the part before the last four
    har = (tmp_path / "calls.har").read_text()
    assert "Bearer ****1234" in har  # the client key, redacted as recorded


def test_cli_mistakes_get_a_sentence(worker: WorkerProcess, tmp_path: Path) -> None:
    no_endpoint = relayscope("export", "--db", worker.db_path, "--format", "otlp")
    assert no_endpoint.returncode == 2
    assert "needs --endpoint URL" in no_endpoint.stderr
    both = relayscope("export", "--db", worker.db_path, "--format", "har", "--ids", "x", "--errors")
    assert both.returncode == 2 and "either by --ids or by" in both.stderr
    missing = relayscope("import", "--db", tmp_path / "x.db", tmp_path / "nope.har")
    assert missing.returncode == 1 and "nope.har: cannot read it" in missing.stderr
    unknown = relayscope("export", "--db", worker.db_path, "--format", "har", "--ids", "ffff")
    assert unknown.returncode == 1 and "No recorded call has an id starting with" in unknown.stderr
    unwritable = relayscope(
        "export", "--db", worker.db_path, "--format", "har", "-o", tmp_path / "no" / "x.har"
    )
    assert unwritable.returncode == 1
    assert f"cannot write {tmp_path / 'no' / 'x.har'} (No such file" in unwritable.stderr
    nowhere = relayscope("export", "--db", tmp_path / "none.db", "--format", "jsonl")
    assert nowhere.returncode == 1 and "no recording database here" in nowhere.stderr


def test_the_worker_exports_every_finished_call_to_an_otlp_collector(tmp_path: Path) -> None:
    """Configured with [otlp] endpoint, the proxy sends spans as calls finish."""
    with Collector() as collector:
        config = (
            f'[otlp]\nendpoint = "{collector.endpoint}"\n'
            'headers = { authorization = "Bearer collector-token" }\n'
        )
        with WorkerProcess(tmp_path, config, env={"OTEL_BSP_SCHEDULE_DELAY": "50"}) as worker:
            with openai.OpenAI(base_url=worker.base_url, api_key="x", max_retries=0) as client:
                list(
                    client.chat.completions.create(
                        model="demo-fast",
                        stream=True,
                        messages=[{"role": "user", "content": "trace me"}],
                    )
                )
            (row,) = worker.wait_for_calls(1)
            assert collector.arrived.wait(10)
    post = collector.posts[0]
    assert post.path == "/v1/traces" and post.headers["authorization"] == "Bearer collector-token"
    assert post.headers["content-type"] == "application/x-protobuf"
    (span,) = collector.spans()
    found = attributes(span)
    assert found["gen_ai.request.model"] == "demo-fast"
    assert found["gen_ai.provider.name"] == "openai" and found["relayscope.provider"] == "demo"
    assert found["gen_ai.request.stream"] is True
    assert found["gen_ai.response.time_to_first_chunk"] == row["ttft_ms"] / 1000
    assert len(span.events) == row["chunk_count"]
    # The proxy's spans are priced too: the demo models have a demo price, said as such.
    assert found["relayscope.cost.usd"] > 0
    assert "demo pricing" in found["relayscope.cost.basis"]


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def test_the_conversation_reaches_the_collector_when_capture_is_on(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """A chat, a stream, a tool call and an error through the real worker, content switched on
    by the conventions' own variable; the collector decodes protobuf."""
    config = provider_config(("fake", fake.base_url))
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
        "OTEL_SERVICE_NAME": "relayscope-e2e",
    }
    with Collector() as collector:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.endpoint  # no [otlp] in the config
        with WorkerProcess(tmp_path, config, env=env) as worker:
            with openai.OpenAI(base_url=worker.base_url, api_key="x", max_retries=0) as client:
                client.chat.completions.create(model="fake-1", messages=MESSAGES)  # type: ignore[arg-type]
                list(
                    client.chat.completions.create(
                        model="fake-1",
                        messages=MESSAGES,  # type: ignore[arg-type]
                        stream=True,
                        stop=["END"],
                        n=1,
                        reasoning_effort="low",
                    )
                )
                client.chat.completions.create(
                    model="fake-1",
                    messages=[{"role": "user", "content": "Weather in Oslo?"}],
                    tools=[WEATHER_TOOL],  # type: ignore[list-item]
                )
                with pytest.raises(openai.RateLimitError):
                    client.chat.completions.create(model="fail-429", messages=MESSAGES)  # type: ignore[arg-type]
            rows = worker.wait_for_calls(4)
            deadline = time.monotonic() + 10
            while len(collector.spans()) < 4 and time.monotonic() < deadline:
                time.sleep(0.05)
    spans = by_call(collector.spans())
    chat, stream, tool, error = (attributes(spans[row["id"]]) for row in rows)
    resource = attributes(collector.posts[0].request().resource_spans[0].resource)
    assert resource["service.name"] == "relayscope-e2e"

    def messages(values: dict[str, Any], key: str) -> Any:
        return json.loads(values[key])

    assert messages(chat, "gen_ai.system_instructions") == [
        {"type": "text", "content": "Be brief."}
    ]
    assert messages(chat, "gen_ai.input.messages") == [
        {"role": "user", "parts": [{"type": "text", "content": "Export me"}]}
    ]
    (answer,) = messages(chat, "gen_ai.output.messages")
    assert answer["role"] == "assistant" and answer["finish_reason"] == "stop"
    assert answer["parts"][0]["type"] == "text" and answer["parts"][0]["content"]
    assert chat["gen_ai.usage.input_tokens"] == rows[0]["prompt_tokens"]

    assert stream["gen_ai.request.stream"] is True
    assert stream["gen_ai.request.stop_sequences"] == ["END"]
    assert stream["gen_ai.request.choice.count"] == 1
    assert stream["gen_ai.request.reasoning.level"] == "low"
    (streamed,) = messages(stream, "gen_ai.output.messages")
    assert streamed["parts"][0]["content"] == rows[1]["output_text"]
    assert stream["gen_ai.response.time_to_first_chunk"] == rows[1]["ttft_ms"] / 1000

    assert tool["gen_ai.response.finish_reasons"] == ["tool_call"]
    (definition,) = messages(tool, "gen_ai.tool.definitions")
    assert definition["name"] == "get_weather" and definition["type"] == "function"
    (called,) = messages(tool, "gen_ai.output.messages")
    (part,) = called["parts"]
    assert part["type"] == "tool_call" and part["name"] == "get_weather"
    assert isinstance(part["arguments"], dict) and "city" in part["arguments"]

    assert error["error.type"] == "429" and error["http.response.status_code"] == 429
    assert spans[rows[3]["id"]].status.code == 2  # ERROR
