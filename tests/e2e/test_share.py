"""`relayscope share`: a recorded call and session as one redacted HTML page, opened in
headless Chromium: it renders, hostile recorded text stays text, and nothing is loaded."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import openai
import pytest

from tests.fakes.provider import FakeProvider
from tests.support.worker import ROOT, WorkerProcess

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HOSTILE = (
    "</style><script>document.title='pwned'</script><img src=x onerror=alert(1)>"
    '<a href="https://evil.example/">x</a>'
)
SECRETS = {
    "key": "sk-proj-Abc123Def456Ghi789Jkl012",
    "email": "jane.doe@example.com",
    "query": "https://api.example.com/v1/files?api_key=QUERYSECRET123&page=2",
    "pattern": "ACME-77421",
}
PROMPT = (
    f"{HOSTILE} my key is {SECRETS['key']}, write to {SECRETS['email']}, fetch "
    f"{SECRETS['query']}, ticket {SECRETS['pattern']}"
)
SESSION = "share-session-1"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    tmp = tmp_path_factory.mktemp("share")
    with (
        FakeProvider(name="openai", chunk_delay=0.01) as fake,
        WorkerProcess(
            tmp, f'[[providers]]\nname = "openai"\nbase_url = "{fake.base_url}"\ndefault = true\n'
        ) as worker,
    ):
        with openai.OpenAI(
            base_url=worker.base_url,
            api_key="sk-test-1234567890abcdef",
            default_query={"key": "PATHSECRET99"},  # recorded in the call's path
        ) as client:
            # The fake answers "You said: <prompt>": the hostile text is in the answer too.
            for turn in ("t1", "t2"):
                stream = client.responses.create(
                    model="gpt-5.2",
                    input=[{"role": "user", "content": PROMPT}],
                    stream=True,
                    extra_headers={
                        "session-id": SESSION,
                        "x-codex-turn-metadata": json.dumps({"turn_id": turn}),
                    },
                )
                for _ in stream:
                    pass
        (row, _) = worker.wait_for_calls(2)
    yield worker.db_path, row["id"]


def share(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "relayscope", "share", *args, "--db", str(db)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result


class _Loads(HTMLParser):
    """Every attribute that could make a browser fetch something, and every element."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "data", "poster", "xlink:href"):
                self.urls.append(value or "")


def _chromium(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (bash dev/setup.sh installs it)")
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_shared_call_is_redacted_and_hostile_text_stays_text(
    recorded: tuple[Path, str], tmp_path: Path
) -> None:
    db, call_id = recorded
    page = tmp_path / "call.html"
    result = share(
        db, call_id, "--html", str(page), "--redact-emails", "--redact-pattern", r"ACME-\d+"
    )
    html = page.read_text()
    for secret in ("Abc123Def456Ghi789", "jane.doe", "QUERYSECRET123", "ACME-77421", "PATHSECRET"):
        assert secret not in html, secret
    assert "page=2" in html  # only the secret parameter goes
    assert "?key=[redacted]" in html  # the call's own path
    summary = result.stderr
    assert "<summary>Request headers</summary>" in html and "sk-test-1234567890" not in html
    for kind in (
        "API key",
        "e-mail address",
        "query-string secret",
        "--redact-pattern",
        "authorization header",
    ):
        assert kind in summary, summary
    # The hostile prompt and answer are in the page as text, never as markup.
    assert "&lt;/style&gt;&lt;script&gt;" in html and "&lt;img src=x onerror" in html
    parsed = _Loads()
    parsed.feed(html)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert all(url.startswith("#") for url in parsed.urls), parsed.urls
    assert "url(" not in html and "@import" not in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    # The stream timeline and the facts a reader needs.
    assert "<svg" in html and "Stream" in html and "Findings" in html
    assert "$0.0" in html and "openai/gpt-5.2 list price" in html


def test_a_shared_session_shows_turns_with_tokens_and_cost(
    recorded: tuple[Path, str], tmp_path: Path
) -> None:
    db, _ = recorded
    page = tmp_path / "session.html"
    share(db, "--session", SESSION, "--html", str(page))
    html = page.read_text()
    assert f"Session {SESSION}" in html
    assert 'href="#turn-2"' in html and 'id="turn-2"' in html
    assert html.count("<svg") == 2  # one timeline per call
    assert "Abc123Def456Ghi789" not in html


def test_share_needs_a_call_or_a_session(recorded: tuple[Path, str], tmp_path: Path) -> None:
    db, _ = recorded
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "relayscope",
            "share",
            "--html",
            str(tmp_path / "x.html"),
            "--db",
            str(db),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "call ID or --session" in result.stderr


#: Chromium's own services, which it calls whatever the page holds (time, component updates,
#: accounts), even with --disable-background-networking.
CHROMIUM_OWN = (".google.com", ".googleapis.com", ".gvt1.com", ".gstatic.com")


#: How long the listener waits for a connection's request line.
READ_TIMEOUT_S = 10


class _Listener:
    """A loopback TCP port posing as Chromium's proxy: it keeps the host of every request."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.hosts: list[str] = []
        self._readers: list[threading.Thread] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            # A thread each: a connection kept open unused must not hold up the others.
            reader = threading.Thread(target=self._read, args=(conn,), daemon=True)
            self._readers.append(reader)
            reader.start()

    def _read(self, conn: socket.socket) -> None:
        conn.settimeout(READ_TIMEOUT_S)
        try:
            data = conn.recv(4096)
        except OSError:
            data = b"? (no request line in time)"  # counted: it may be a request
        conn.close()
        if not data:
            # Closed having sent nothing: Chromium opens spare connections to its proxy and
            # closes them unused (more often on a slow machine). No host was asked for.
            return
        line = data.split(b"\r\n")[0].decode("latin-1")
        target = line.split(" ")[1] if line.count(" ") >= 2 else line
        self.hosts.append(urlsplit(target if "//" in target else f"//{target}").hostname or "")

    def from_pages(self) -> list[str]:
        """Hosts asked for, less Chromium's own services (once every connection so far has
        said what it asks for, or closed: Chromium has exited, so none stays open)."""
        for reader in list(self._readers):
            reader.join(READ_TIMEOUT_S + 1)
        return [h for h in self.hosts if not h.endswith(CHROMIUM_OWN)]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def _render(page: Path, listener: _Listener, *extra: str) -> subprocess.CompletedProcess[str]:
    # Every request goes to the listener (no --host-resolver-rules: mapping hosts away
    # would stop a page's request before the listener could see it).
    return _chromium(
        f"--proxy-server=http://127.0.0.1:{listener.port}",
        "--proxy-bypass-list=<-loopback>",
        *extra,
        page.as_uri(),
    )


def test_chromium_renders_the_page_and_no_request_leaves_it(
    recorded: tuple[Path, str], tmp_path: Path
) -> None:
    db, call_id = recorded
    page = tmp_path / "call.html"
    share(db, call_id, "--html", str(page))
    listener = _Listener()
    try:
        # The detector works: a page that loads an image is seen asking the proxy for it.
        control = tmp_path / "control.html"
        control.write_text('<html><body><img src="http://example.com/x.png"></body></html>')
        _render(control, listener, "--dump-dom")
        assert "example.com" in listener.from_pages()
        listener.hosts.clear()

        dom = _render(page, listener, "--dump-dom").stdout
        shot = tmp_path / "share.png"
        _render(page, listener, f"--screenshot={shot}", "--window-size=1280,900")
        assert listener.from_pages() == []
    finally:
        listener.close()
    # Rendered: the DOM has the conversation as text, no element made from recorded text.
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
    assert "<img" not in dom and "<script" not in dom and "pwned</title>" not in dom
    assert "Conversation" in dom and "Answer" in dom
    assert shot.stat().st_size > 20_000  # a blank 1280x900 PNG is a few KB
