"""Reading a HAR file: its entries, and which of them are OpenAI-format API calls."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from relayscope.exchange.har_import.results import HarImportError

# The path ends in an OpenAI-format endpoint, under whatever base path the provider uses.
_API_PATH = re.compile(r"/(?:(?:chat/)?completions|embeddings|(?:responses|models)(?:/[^/]+)?)/?$")


def load_entries(path: Path | str) -> list[dict[str, Any]]:
    """The entries of a HAR file; HarImportError with a sentence if it is not one."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            document = json.load(file)
    except OSError as exc:
        raise HarImportError(f"{path}: cannot read it ({exc.strerror or exc}).") from exc
    except (ValueError, RecursionError) as exc:
        raise HarImportError(f"{path}: not a HAR file (it is not valid JSON: {exc}).") from exc
    log = document.get("log") if isinstance(document, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise HarImportError(f"{path}: not a HAR file (no log.entries list).")
    return [entry for entry in entries if isinstance(entry, dict)]


def is_api_entry(entry: dict[str, Any]) -> bool:
    """True for an OpenAI-format API call (chat/completions, responses, …) or our own export."""
    if isinstance(entry.get("_relayscope"), dict):
        return True
    request = entry.get("request")
    url = request.get("url") if isinstance(request, dict) else None
    return isinstance(url, str) and bool(_API_PATH.search(urlsplit(url).path))
