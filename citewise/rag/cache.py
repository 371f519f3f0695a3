"""The small caches both extractive scorers keep: a thread-safe LRU map, and sentence vectors
embedded only when missing from it."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence


class LRU:
    """A small thread-safe LRU map."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[object, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: object) -> object | None:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
            return None

    def put(self, key: object, value: object) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


def cached_vectors(
    cache: LRU,
    embed_each: Callable[[list[str]], list[list[float]]],
    keys: Sequence[object],
    texts: Sequence[str],
) -> list[list[float]]:
    """The vector of each text, from ``cache`` by its key, embedding (each on its own) only those missing."""
    found = [cache.get(k) for k in keys]
    missing = [i for i, v in enumerate(found) if v is None]
    if missing:
        for i, v in zip(missing, embed_each([texts[i] for i in missing]), strict=True):
            cache.put(keys[i], v)
            found[i] = v
    return found  # type: ignore[return-value]
