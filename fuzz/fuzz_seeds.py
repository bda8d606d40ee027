"""Coverage-guided fuzzing of the seed reader with atheris (run on demand, not in CI).

    pip install -e '.[fuzz]'
    python fuzz/fuzz_seeds.py -atheris_runs=200000 fuzz/corpus      # seeds the corpus from seeds/

The property: for any bytes, ``parse_seed_bytes`` returns a SeedFile whose records are sane
or raises SeedFileError with a reason; any other exception, hang or crash is a finding.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

with atheris.instrument_imports():
    from indexer.seeds import SeedFileError, parse_seed_bytes


def test_one_input(data: bytes) -> None:
    try:
        seed = parse_seed_bytes("fuzz.md", data)
    except SeedFileError as exc:
        if not str(exc):
            raise AssertionError("SeedFileError without a reason") from exc
        return
    for record in seed.records:
        if not (record.key and record.title and record.url.lower().startswith(("http://", "https://"))):
            raise AssertionError(f"insane record: {record!r}")


def main() -> None:
    corpus = next((Path(a) for a in sys.argv[1:] if not a.startswith("-")), None)
    if corpus is not None and not corpus.exists():
        corpus.mkdir(parents=True)
        for seed in sorted((ROOT / "seeds").glob("*.txt")):
            (corpus / seed.name).write_bytes(seed.read_bytes())
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
