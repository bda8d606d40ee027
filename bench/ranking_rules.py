"""CPU time per query of the ranking policy's optional rules (run on demand, not in CI).

    python bench/ranking_rules.py --index /tmp/nb/index20k [--rounds 3]

Engines over one index, differing only in their policy: the all-words tier off, the common-word
weight in coordination off, compound words off or scored with their own idf, the current policy,
and the current policy with pseudo-relevance feedback from 3 words. Each round runs the same
queries (3-4 words, and 5+ word questions, where every word's commonness is looked up) through
each engine (answer cache off) and prints the process CPU time per query, so the ratios hold on a
busy machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search.engine import SearchEngine
from search.ranking import POLICY
from search.request import build_request

QUERIES = (
    "facial recognition police ban",
    "covid hospital capacity forecasting",
    "AI debt collection",
    "lidar alternatives autonomous vehicles",
    "biometric privacy class action",
    "medical AI regulation",
    "Power Platform adoption organisations",
    "airport biometric boarding",
    "covid chest imaging AI",
    "wildlife monitoring deep learning",
    "self-driving street sweepers",
    "military AI market",
    "why did IBM get out of the facial recognition business",
    "how did small businesses use Power Apps to get through covid",
    "is Clearview being used by the Australian federal police",
    "what did John Oliver say about police using facial recognition",
    "drone cyber-security",  # words written apart and together (search.compounds)
    "PowerApps portal",
)
VARIANTS = {
    "all-words tier off": dataclasses.replace(POLICY, all_words_first=False),
    "common-word weight off": dataclasses.replace(POLICY, common_zipf=0.0),
    "compound words off": dataclasses.replace(POLICY, compound_weight=0.0),
    "compound words, own idf": dataclasses.replace(POLICY, compound_idf="own"),
    "current policy": POLICY,
    "current + feedback from 3 words": dataclasses.replace(POLICY, feedback_from=3),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    engines = {name: SearchEngine(args.index, cache_entries=0, policy=p) for name, p in VARIANTS.items()}
    requests = [build_request(q, limit=10) for q in QUERIES]  # as /api/search gets them: completions, stories
    for engine in engines.values():
        for request in requests:  # warm: postings cached, pages mapped
            engine.search(request)
    for round_ in range(1, args.rounds + 1):
        for name, engine in engines.items():
            started = time.process_time()
            for request in requests:
                engine.search(request)
            per_query = 1000 * (time.process_time() - started) / len(requests)
            print(f"round {round_}  {name:34} {per_query:6.1f} ms CPU per query")


if __name__ == "__main__":
    main()
