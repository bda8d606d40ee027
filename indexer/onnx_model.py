"""The embedding model exported to ONNX, so that queries and updates run it without PyTorch.

``indexer.embedder`` exports the sentence-transformers model once, when an index is first embedded
(that build has PyTorch), into the generation's ``semantic/runtime/`` folder; every later update
hard-links it, and every searcher runs it with onnxruntime and tokenizers alone: a process starts
in a fraction of a second instead of the seconds PyTorch's import takes, and a query embeds about 3x
faster. Only a model that is a transformer, mean pooling and unit length (as all-MiniLM-L6-v2 is) is
exported, and only when the exported copy gives the same vectors as the model on probe texts;
otherwise there is no runtime folder and the model itself is used, as before.

A folder is ``model.onnx``, ``tokenizer.json`` and ``runtime.json``, written last: a folder without
it is not there.
"""

from __future__ import annotations

import importlib.util
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import generations

MODEL, TOKENIZER, META = "model.onnx", "tokenizer.json", "runtime.json"
FORMAT = 1
TOLERANCE = 1e-4  # the largest difference allowed between the model's and the export's vectors
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def installed() -> bool:
    """Whether onnxruntime and tokenizers can be imported (looked up, not imported)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "tokenizers"))


def meta(folder: Path | None) -> dict | None:
    """The folder's ``runtime.json``, None when it is absent or unreadable (no runtime)."""
    if folder is None:
        return None
    try:
        found = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(found, dict) or found.get("format") != FORMAT or not (folder / MODEL).is_file():
        return None
    return found


@dataclass
class Runtime:
    """An exported model loaded in onnxruntime: texts in, unit vectors out."""

    session: object
    tokenizer: object
    inputs: tuple[str, ...]
    lowercase: bool
    dimensions: int

    @classmethod
    def load(cls, folder: Path, threads: int) -> Runtime:
        """Load the folder's model to run on ``threads`` cores (raises OSError or ValueError when it cannot)."""
        import onnxruntime
        from tokenizers import Tokenizer

        found = meta(folder)
        if found is None:
            raise ValueError(f"{folder}: no exported model")
        tokenizer = Tokenizer.from_file(str(folder / TOKENIZER))
        tokenizer.enable_truncation(max_length=int(found["max_length"]))
        tokenizer.enable_padding(pad_id=int(found["pad_id"]), pad_token=str(found["pad_token"]))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # idle worker threads sleep rather than spin: a server's other requests need the cores
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            session = onnxruntime.InferenceSession(str(folder / MODEL), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own types for a damaged file
            raise ValueError(f"{folder / MODEL}: {err}") from err
        return cls(session, tokenizer, tuple(found["inputs"]), bool(found.get("lowercase")), int(found["dimensions"]))

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


def unsupported(model) -> str | None:
    """Why a loaded sentence-transformers model cannot be exported, None when it can."""
    if not all(importlib.util.find_spec(name) for name in ("onnx", "onnxruntime", "tokenizers")):
        return "onnx, onnxruntime or tokenizers is not installed"
    kinds = [type(module).__name__ for module in model]
    if kinds not in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"]):
        return f"its modules are {kinds}, not a transformer and mean pooling"
    if getattr(model[1], "pooling_mode", None) != "mean":  # sentence-transformers 6 names the mode
        return "its pooling is not the mean of the tokens"
    if not hasattr(model.tokenizer, "backend_tokenizer"):
        return "its tokenizer has no fast (tokenizers) form"
    return None


def export(model, name: str, folder: Path, probe: list[str]) -> None:
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
    inputs = tuple(name for name in INPUTS if name in tokenizer.model_input_names)
    sample = tokenizer(["an example", "and another, longer example"], padding=True, return_tensors="pt")

    class Tokens(torch.nn.Module):  # the transformer's token vectors, from named inputs
        def __init__(self) -> None:
            super().__init__()
            self.inner = transformer.auto_model

        def forward(self, *tensors):
            return self.inner(**dict(zip(inputs, tensors, strict=True))).last_hidden_state

    folder.mkdir(parents=True, exist_ok=True)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*inputs, "tokens")}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on shapes: the probe checks the result
        torch.onnx.export(
            Tokens().eval(),
            tuple(sample[name] for name in inputs),
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
    }
    generations.write_durably(folder / META, json.dumps(found).encode())
    expected = np.asarray(model.encode(probe, normalize_embeddings=True, show_progress_bar=False), dtype=np.float32)
    got = Runtime.load(folder, threads=1).encode(probe)
    gap = float(np.abs(got - expected).max())
    if gap > TOLERANCE:
        for name in (META, MODEL, TOKENIZER):
            (folder / name).unlink(missing_ok=True)
        raise ValueError(f"the exported model's vectors differ from the model's by {gap:.2g}")
    for name in (MODEL, TOKENIZER):  # written by the exporters: on disk before the generation is published
        with open(folder / name, "rb") as fh:
            os.fsync(fh.fileno())
    generations.fsync_dir(folder)
