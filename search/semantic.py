"""The "semantic" rule: the first results re-ordered by how close each item's meaning is to the query's.

When the index holds item vectors (``search-cli index --semantic-model``, ``indexer.vectors``), the
first ``policy.semantic_window`` results of a plain query ranked by relevance (the words tier kept:
items holding the required words stay first) each gain the policy's weight for the model and the query
(``policy.meaning_weight``) x the cosine of its vector and the query's x the best score among them, and
are ordered again, ahead of the rest,
as Elasticsearch's ``rescore`` orders a window. Words decide what matches and the window; meaning
re-orders it, so an item phrased otherwise than the query ("geospatial" for "maps") can rise
without an item that lacks the query's words being let in. Chosen and confirmed on blind
judgments: docs/relevance.md, tenth round and fifteenth pass.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer import embedder, generations, vectors
from indexer.generations import IndexMissing

log = logging.getLogger(__name__)
_warned: set[str] = set()


@dataclass(frozen=True)
class Meaning:
    """A query's vector and the weight the policy gives its closeness, decided once per query."""

    vector: np.ndarray  # float32, unit length, under the model that embedded the generation
    weight: float  # policy.meaning_weight for that model and the query: above 0 (else no Meaning)


@dataclass(frozen=True)
class Rescored:
    """The window's document positions (into the matches) and each one's similarity to the query."""

    window: np.ndarray  # int64 positions in the matches, the first ``semantic_window`` by words
    similarity: np.ndarray  # float32 cosine of each one's vector and the query's
    scale: float  # the best score in the window: a similarity of 1 adds ``weight`` x this
    weight: float  # the policy's weight for the model and the query


def query_meaning(gen, text: str) -> Meaning | None:
    """The query's vector under the model that embedded the generation and its weight, or None.

    None when the generation has no vectors, the model cannot load, or the policy gives this query's
    closeness no weight (``policy.meaning_weight``: then it is not embedded at all).

    An index embedded by a model this process cannot load is searched by words alone, with one warning.
    """
    held = gen.vectors
    weight = gen.policy.meaning_weight(held.model, text) if held is not None and text.strip() else 0.0
    if weight <= 0:
        return None
    try:
        return Meaning(embedder.query_vector(held.model, text, held.runtime), weight)
    except embedder.EmbedderMissing as err:
        if held.model not in _warned:
            _warned.add(held.model)
            log.warning("%s: ranking by words alone", err)
        return None


def rescore(gen, meaning: Meaning, docs: np.ndarray, ranked: np.ndarray, key: np.ndarray) -> Rescored:
    """Add the semantic lift to ``ranked``, in place, over the window ``key`` (lower first) puts first."""
    size = min(gen.policy.semantic_window, len(docs))
    window = np.argpartition(key, size - 1)[:size] if size < len(docs) else np.arange(len(docs))
    similarity = gen.vectors.rows[docs[window]].astype(np.float32) @ meaning.vector
    scale = float(ranked[window].max())
    ranked[window] += similarity.astype(np.float64) * (meaning.weight * scale)
    return Rescored(window, similarity, scale, meaning.weight)


def lift(weight: float, similarity: float, scale: float) -> float:
    """What the rule adds to one item's score (as ``rescore`` adds it)."""
    return float(similarity) * (weight * scale)


def load_in_background(index_dir: Path) -> None:
    """Load the embedding model of the live generation in a thread, so a server's first query does not wait.

    It reads only the generation's name and its vectors' meta file: opening the generation's arrays
    here beside a request's opening them would parse .npy headers in two threads at once, which
    CPython 3.11's ``ast`` does not survive ("AST constructor recursion depth mismatch").
    """

    def load() -> None:
        try:
            gen = generations.current_generation(index_dir)
            model = vectors.model_of(gen)
            if model is not None:
                embedder.load(model, vectors.runtime_of(gen))
        except (IndexMissing, OSError, ValueError, RuntimeError) as err:  # no index or model: the first query says
            log.info("embedding model not loaded ahead: %s", err)

    threading.Thread(target=load, name="load-embedder", daemon=True).start()
