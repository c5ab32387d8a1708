"""NewText: which texts of a request are new in its conversation (for the full-text index).

An agent resends its whole conversation each turn; indexing it whole every time made the
index grow with the square of the turns. A text (one message, instruction or tool output)
is indexed in the first call of its conversation that carried it: the call of the same
`session_id`, else of the same opening (first two texts), seen last; a request's last text
is always indexed (a retry is found by it too). The memory is this
process's: after a restart a conversation's next call is indexed whole once.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

#: Conversations remembered at once (the least recently seen is forgotten first).
CONVERSATIONS = 256


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class NewText:
    """Remembers the texts of each conversation's last call."""

    def __init__(self) -> None:
        self._seen: OrderedDict[object, set[bytes]] = OrderedDict()

    def new_in(self, session_id: str | None, texts: Sequence[str]) -> str:
        """The texts not in this conversation's previous call (and the last), joined by
        newlines."""
        digests = [_digest(t) for t in texts]
        key: object = session_id or tuple(digests[:2])
        seen = self._seen.pop(key, set())
        self._seen[key] = set(digests)
        if len(self._seen) > CONVERSATIONS:
            self._seen.popitem(last=False)
        last = len(texts) - 1  # always indexed: a retry or a repeated request is found by it
        return "\n".join(
            t
            for i, (t, d) in enumerate(zip(texts, digests, strict=True))
            if i == last or d not in seen
        )

    def forget(self) -> None:
        """A transaction failed: what it indexed is not stored, so index everything again."""
        self._seen.clear()
