"""Screenshots of the window (first run, traffic) for docs/screenshots.

    QT_QPA_PLATFORM=offscreen .venv/bin/python dev/screenshots.py [OUT_DIR] [--dark]

The other screenshots come from the tests: RELAYSCOPE_SCREENSHOTS=docs/screenshots pytest tests/ui
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai

from relayscope.store.call_store import CallStore
from relayscope.ui.application import create_application
from relayscope.ui.main_window import MainWindow
from relayscope.ui.worker_process import WorkerProcess
from tests.fakes.provider import FakeProvider

OUT = Path(
    sys.argv[1]
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-")
    else Path(__file__).resolve().parents[1] / "docs" / "screenshots"
)
DARK = "--dark" in sys.argv
app = create_application(["x"])
if DARK:
    from relayscope.ui import theme

    app.setPalette(theme.build_palette(True))


def pump(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def until(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError
        app.processEvents()
        time.sleep(0.01)


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def make_window(tmp: Path, config_text: str | None):
    cfg = tmp / "config.toml"
    if config_text:
        cfg.write_text(config_text)
    db = tmp / "relayscope.db"
    store = CallStore(db)
    worker = WorkerProcess(db, cfg)
    port = 8787 if port_free(8787) else 0
    win = MainWindow(store, worker, config_path=cfg, port=port)
    win.show()
    worker.start(port)
    until(lambda: worker.state == "listening", 60)  # a busy machine starts slowly
    pump(0.3)
    return win, store


suffix = "-dark" if DARK else ""
# 1. First run.
with tempfile.TemporaryDirectory() as t:
    win, store = make_window(Path(t), None)
    win.grab().save(str(OUT / f"first-run{suffix}.png"))
    win.close()
    store.close()

# 2. Traffic.
ANSWER_TEXT = (
    "A reverse proxy sits in front of one or more servers and accepts requests on their "
    "behalf, so clients talk to a single address. It forwards each request to the right "
    "server, can add or check credentials on the way, and passes the answer back, which "
    "makes it a natural place to log, cache or inspect traffic without changing either side "
    "of the conversation."
)
ANSWER = ANSWER_TEXT.split(" ")


class RealisticFake(FakeProvider):
    """The fake provider with an answer a person would read (its default is word filler)."""

    def answer_for(self, model: str, prompt: str) -> str:
        return " ".join(ANSWER[: self.words or len(ANSWER)])


with (
    RealisticFake(name="constreet", chunk_delay=0.03, words=60) as a,
    RealisticFake(name="openrouter", chunk_delay=0.02, words=40) as b,
    tempfile.TemporaryDirectory() as t,
):
    config = (
        f'[[providers]]\nname = "constreet"\nbase_url = "{a.base_url}"\n'
        'api_key = "sk-a-0123456789abcdef"\n'
        'models = ["gpt-*"]\ndefault = true\n\n'
        f'[[providers]]\nname = "openrouter"\nbase_url = "{b.base_url}"\n'
        'api_key = "sk-b-0123456789abcdef"\n'
        'models = ["claude-*", "qwen*"]\n'
    )
    win, store = make_window(Path(t), config)
    win.resize(1440, 820)  # wide enough for every column, Cost included
    client = openai.OpenAI(base_url=win.worker.url, api_key="sk-any", max_retries=0)
    msgs = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Explain what a reverse proxy does, in two sentences."},
    ]

    def call(model, stream=False, scenario=None):
        headers = {"x-fake-scenario": scenario} if scenario else None
        with contextlib.suppress(Exception):
            if stream:
                for _ in client.chat.completions.create(
                    model=model,
                    messages=msgs,
                    stream=True,
                    stream_options={"include_usage": True},
                    extra_headers=headers,
                ):
                    pass
            else:
                client.chat.completions.create(model=model, messages=msgs, extra_headers=headers)

    plan = [
        ("gpt-5.2", True, None),
        ("claude-sonnet-4-6", False, None),
        ("gpt-5.2", True, None),
        ("qwen3-coder", False, "fail-429"),
        ("claude-sonnet-4-6", True, None),
        ("gpt-5-mini", False, None),
        ("gpt-5.2", True, "cut-stream"),
        ("claude-sonnet-4-6", False, "fail-500"),
        ("gpt-5.2", True, None),
        ("gpt-5.2", False, None),
    ]
    for model, stream, scenario in plan:
        th = threading.Thread(target=call, args=(model, stream, scenario))
        th.start()
        while th.is_alive():
            pump(0.02)
        pump(0.05)
    # Demo call via the responses API too.
    th = threading.Thread(target=lambda: client.responses.create(model="demo-fast", input="Hello!"))
    th.start()
    while th.is_alive():
        pump(0.02)
    # A slow stream in flight at screenshot time.
    slow = threading.Thread(target=call, args=("gpt-5.2", True, "slow"))
    slow.start()
    pump(0.9)
    win.call_list.selectRow(int(os.environ.get("SHOT_ROW", "0")))
    pump(0.3)
    win.grab().save(str(OUT / f"traffic{suffix}.png"))
    slow.join()
    pump(0.3)
    client.close()
    win.close()
    store.close()
print("ok")
