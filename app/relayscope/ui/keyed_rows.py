"""KeyedRows: an ordered list of keys whose positions are looked up in O(1) and stay cheap
to keep up to date when rows come and go near either end (live calls at the top, the trim at
the bottom)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator


class KeyedRows[K: Hashable]:
    """Keys in row order, each with its row number.

    A plain `{key: row}` dict must renumber every row below an insert at the top: O(rows)
    per batch of live calls. Here a key stores a stamp and its row is `stamp + offset`, so an
    insert or a removal renumbers only the rows on its shorter side (the rows above it,
    through the offset, or the rows below it): O(changed + min(above, below)). Moving a block
    renumbers the rows between its old and new place. The list itself moves with a C-level
    `memmove`, which is not what costs at 1,500 rows.
    """

    def __init__(self, keys: Iterable[K] = ()) -> None:
        self._keys: list[K] = list(keys)
        self._stamp: dict[K, int] = {key: row for row, key in enumerate(self._keys)}
        self._offset = 0
        if len(self._stamp) != len(self._keys):
            raise ValueError("keys must be unique")

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[K]:
        return iter(self._keys)

    def __getitem__(self, row: int) -> K:
        return self._keys[row]

    def __contains__(self, key: object) -> bool:
        return key in self._stamp

    def row(self, key: K) -> int | None:
        stamp = self._stamp.get(key)
        return None if stamp is None else stamp + self._offset

    def slice(self, first: int, last: int) -> list[K]:
        return self._keys[first : last + 1]

    def insert(self, row: int, keys: list[K]) -> None:
        """Put `keys` at `row` (the rows from there on move down)."""
        count = len(keys)
        if row < len(self._keys) - row:
            for key in self._keys[:row]:  # the rows above keep their numbers
                self._stamp[key] -= count
            self._offset += count
        else:
            for key in self._keys[row:]:
                self._stamp[key] += count
        self._keys[row:row] = keys
        for i, key in enumerate(keys):
            self._stamp[key] = row + i - self._offset
        if len(self._stamp) != len(self._keys):
            raise ValueError("a key inserted twice")

    def remove(self, first: int, last: int) -> None:
        """Drop the rows `first`..`last` (the rows below move up)."""
        count = last - first + 1
        for key in self._keys[first : last + 1]:
            del self._stamp[key]
        if first < len(self._keys) - last - 1:
            for key in self._keys[:first]:
                self._stamp[key] += count
            self._offset -= count
        else:
            for key in self._keys[last + 1 :]:
                self._stamp[key] -= count
        del self._keys[first : last + 1]

    def move(self, first: int, last: int, to: int) -> None:
        """Move the rows `first`..`last` before the row `to` (numbered before the move, as
        `QAbstractItemModel.beginMoveRows` does; not inside `first`..`last + 1`)."""
        block = self._keys[first : last + 1]
        if to < first:
            self._keys[to : last + 1] = block + self._keys[to:first]
            low, high = to, last
        else:
            self._keys[first:to] = self._keys[last + 1 : to] + block
            low, high = first, to - 1
        for row in range(low, high + 1):
            self._stamp[self._keys[row]] = row - self._offset
