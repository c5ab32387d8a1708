"""HAR import: OpenAI-format API calls recorded elsewhere (browser, Charles, Proxyman) as calls.

Each entry goes through `RecordingWriter` (start, chunks, finish) like a proxied call, so the
answer, usage and search index are assembled by the same code. Secrets never come in:
credential headers are redacted as the recorder redacts them, key-like query parameters are
masked, and HAR cookie lists are dropped. An SSE body is split into its events with their
times spread over the entry's receive time (or, for a HAR Relayscope exported, the recorded
times from `_relayscope.chunks`). Such a HAR also keeps its call ids: importing it again into
the same database skips the calls already there.

``reading`` reads the file and picks the API entries, ``mapping`` turns one entry into a
call, ``masking`` keeps secrets out, ``importer`` runs the import, ``results`` is what it
gives, ``values`` small readers.
"""

from __future__ import annotations

from relayscope.exchange.har_import.importer import _Importer as _Importer
from relayscope.exchange.har_import.importer import import_har
from relayscope.exchange.har_import.mapping import call_from_entry
from relayscope.exchange.har_import.mapping import new_id as new_id
from relayscope.exchange.har_import.reading import is_api_entry, load_entries
from relayscope.exchange.har_import.results import ALREADY as ALREADY
from relayscope.exchange.har_import.results import NOT_API as NOT_API
from relayscope.exchange.har_import.results import (
    TRANSPORT,
    HarImportError,
    ImportedCall,
    ImportedChunk,
    ImportResult,
)
from relayscope.exchange.har_import.results import UNREADABLE as UNREADABLE

__all__ = [
    "TRANSPORT",
    "HarImportError",
    "ImportResult",
    "ImportedCall",
    "ImportedChunk",
    "call_from_entry",
    "import_har",
    "is_api_entry",
    "load_entries",
]
