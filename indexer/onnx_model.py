"""The embedding model exported to ONNX, so that queries and updates run it without PyTorch.

``indexer.embedder`` exports the sentence-transformers model once, when an index is first embedded
(that build has PyTorch), into the generation's ``semantic/runtime/`` folder; every later update
hard-links it, and every searcher runs it with onnxruntime and tokenizers alone: a process loads
it in about 0.4 s instead of the 8-10 s PyTorch takes, and the rule adds about 6 ms to an uncached
query instead of about 16 (docs/benchmarks.md, "The semantic rule without PyTorch"). Only a model
that is a transformer, mean pooling and unit length (as all-MiniLM-L6-v2 is) is exported, and only
when the exported copy gives the same vectors as the model on probe texts;
otherwise there is no runtime folder and the model itself is used, as before.

A folder is ``model.onnx``, ``tokenizer.json`` and ``runtime.json``, written last, which records
the other two files' sizes: a folder without it, or whose files are not those sizes, is not there.
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import generations

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL, TOKENIZER, META = "model.onnx", "tokenizer.json", "runtime.json"
FORMAT = 2  # 2: runtime.json records the files' sizes
TOLERANCE = 1e-4  # the largest difference allowed between the model's and the export's vectors
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
KEYS = {"model": str, "inputs": list, "max_length": int, "pad_id": int, "pad_token": str, "dimensions": int}


def installed(*also: str) -> bool:
    """Whether onnxruntime, tokenizers (and ``also``) can be imported (looked up, not imported)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "tokenizers", *also))


def meta(folder: Path | None) -> dict | None:
    """The folder's ``runtime.json``, None when it is absent, unreadable or its files are not as it says."""
    if folder is None:
        return None
    try:
        found = json.loads((folder / META).read_text(encoding="utf-8"))
        whole = all((folder / name).stat().st_size == found["sizes"][name] for name in (MODEL, TOKENIZER))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not whole or found.get("format") != FORMAT or not all(isinstance(found.get(k), t) for k, t in KEYS.items()):
        return None
    return found if set(found["inputs"]) <= set(INPUTS) else None


@dataclass
class Runtime:
    """An exported model loaded in onnxruntime: texts in, unit vectors out."""

    session: Any  # onnxruntime.InferenceSession
    tokenizer: Any  # tokenizers.Tokenizer
    inputs: tuple[str, ...]
    lowercase: bool
    dimensions: int

    @classmethod
    def load(cls, folder: Path, threads: int, found: dict | None = None) -> Runtime:
        """Load the folder's model to run on ``threads`` cores (ValueError when it cannot).

        ``found``: its ``runtime.json`` as written, for the check of an export not yet finished.
        """
        found = found or meta(folder)
        if found is None:
            raise ValueError(f"{folder}: no exported model")
        try:
            import onnxruntime
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(folder / TOKENIZER))
            tokenizer.enable_truncation(max_length=found["max_length"])
            tokenizer.enable_padding(pad_id=found["pad_id"], pad_token=found["pad_token"])
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            # idle worker threads sleep rather than spin: a server's other requests need the cores
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = onnxruntime.InferenceSession(str(folder / MODEL), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # both libraries raise their own types for a damaged file
            raise ValueError(f"{folder}: {err}") from err
        return cls(session, tokenizer, tuple(found["inputs"]), bool(found.get("lowercase")), found["dimensions"])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors: the transformer's token vectors averaged over each text's tokens."""
        encoded = self.tokenizer.encode_batch([t.lower() if self.lowercase else t for t in texts])
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        tokens = self.session.run(None, {name: feed[name] for name in self.inputs})[0]
        weights = mask[..., None].astype(np.float32)
        mean = (tokens * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return mean / np.clip(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12, None)


def unsupported(model: SentenceTransformer) -> str | None:
    """Why a loaded sentence-transformers model cannot be exported, None when it can."""
    if not installed("onnx"):
        return "onnx, onnxruntime or tokenizers is not installed"
    if getattr(model, "default_prompt_name", None):
        return "it puts a prompt before every text"
    kinds = [type(module).__name__ for module in model]
    if kinds not in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"]):
        return f"its modules are {kinds}, not a transformer and mean pooling"
    if getattr(model[1], "pooling_mode", None) != "mean":  # sentence-transformers 6 names the mode
        return "its pooling is not the mean of the tokens"
    if not hasattr(model.tokenizer, "backend_tokenizer"):
        return "its tokenizer has no fast (tokenizers) form"
    return None


def export(model: SentenceTransformer, name: str, folder: Path, probe: list[str]) -> None:
    """Write ``model`` (sentence-transformers, loaded) to ``folder`` as ONNX, checked on ``probe``.

    ``name``: the model as the index names it (``runtime.json`` records it). Raises ValueError when
    it cannot be exported or the export's vectors differ from the model's.
    """
    why = unsupported(model)
    if why:
        raise ValueError(why)
    import torch

    transformer = model[0]
    tokenizer = model.tokenizer
    inputs = tuple(given for given in INPUTS if given in tokenizer.model_input_names)
    sample = tokenizer(["an example", "and another, longer example"], padding=True, return_tensors="pt")

    class Tokens(torch.nn.Module):  # the transformer's token vectors, from named inputs
        def __init__(self) -> None:
            super().__init__()
            self.inner = transformer.auto_model

        def forward(self, *tensors):
            return self.inner(**dict(zip(inputs, tensors, strict=True))).last_hidden_state

    folder.mkdir(parents=True, exist_ok=True)
    axes = {tensor: {0: "batch", 1: "tokens"} for tensor in (*inputs, "tokens")}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on shapes: the probe checks the result
        torch.onnx.export(
            Tokens().eval(),
            tuple(sample[given] for given in inputs),
            str(folder / MODEL),
            input_names=list(inputs),
            output_names=["tokens"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    tokenizer.backend_tokenizer.save(str(folder / TOKENIZER))
    found = {
        "format": FORMAT,
        "model": name,
        "inputs": list(inputs),
        "max_length": int(model.max_seq_length),
        "pad_id": int(tokenizer.pad_token_id or 0),
        "pad_token": str(tokenizer.pad_token or "[PAD]"),
        "lowercase": bool(getattr(transformer, "do_lower_case", False)),
        "dimensions": int(model.get_embedding_dimension()),
        "sizes": {written: (folder / written).stat().st_size for written in (MODEL, TOKENIZER)},
    }
    expected = np.asarray(model.encode(probe, normalize_embeddings=True, show_progress_bar=False), dtype=np.float32)
    got = Runtime.load(folder, 1, found).encode(probe)
    gap = float(np.abs(got - expected).max())
    if gap > TOLERANCE:
        raise ValueError(f"the exported model's vectors differ from the model's by {gap:.2g}")
    for written in (MODEL, TOKENIZER):  # by the exporters: on disk before the meta file that vouches for them
        generations.fsync_file(folder / written)
    generations.write_durably(folder / META, json.dumps(found).encode())
    generations.fsync_dir(folder)
