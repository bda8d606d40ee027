"""What a compiled indexer would change: the same documents into tantivy (run on demand, not in CI).

    pip install -e '.[eval]'
    python bench/compiled_build.py --corpus /tmp/news-bench/corpus20k

Reads and merges the seed files with this project's code (as a full build does), then times
writing them into tantivy (Rust; BM25; English stemming) with the same text fields. The figure
is the answer to "what would a 30 s full build need" in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer.build import build_procs  # noqa: E402
from indexer.documents import build_documents  # noqa: E402
from indexer.seeds import SeedFile, discover, iter_seed_files  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("/tmp/news-bench/corpus20k"))
    args = parser.parse_args()
    import tantivy

    started = time.perf_counter()
    paths, _ = discover(args.corpus)
    files = [f for f in iter_seed_files(args.corpus, paths, build_procs()) if isinstance(f, SeedFile)]
    docs = build_documents(r for f in files for r in f.records)
    read = time.perf_counter() - started
    print(f"read + merge {len(paths):,} files -> {len(docs):,} documents: {read:.1f}s")

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("key", stored=True, tokenizer_name="raw")
    for name in ("title", "excerpt", "provider"):
        builder.add_text_field(name, stored=True, tokenizer_name="en_stem")
    builder.add_text_field("topics", stored=True, tokenizer_name="raw")
    builder.add_integer_field("quality", stored=True, fast=True)
    index = tantivy.Index(builder.build())
    started = time.perf_counter()
    writer = index.writer(heap_size=256_000_000, num_threads=build_procs())
    for doc in docs:
        writer.add_document(
            tantivy.Document(
                key=doc.key,
                title=doc.title,
                excerpt=doc.excerpt,
                provider=doc.provider,
                topics=list(doc.topics),
                quality=doc.quality if doc.quality is not None else -1,
            )
        )
    writer.commit()
    write = time.perf_counter() - started
    print(f"tantivy index write: {write:.1f}s ({len(docs) / write:,.0f} docs/s)")
    print(f"total: {read + write:.1f}s")


if __name__ == "__main__":
    main()
