"""Draw the judged sample of item pairs for "are these two news items reports of the same event?" (deterministic).

    python eval/event_pairs.py                     # pools and guide in /tmp/event
    python eval/event_pairs.py --pool-dir DIR

Indexes the evaluation collection (seeds + AI + Power Apps corpora, as eval/run.py) in a temporary
folder and draws item pairs in four disjoint strata, each pair counted in the first that holds it:

1. ``related``: both items are in one ``related:`` list, or one is the article and the other in its
   list.
2. ``title``: Jaccard of the title word sets >= 0.3 (lower-cased, stop words and one-letter words
   dropped, not stemmed), published within 7 days of each other.
3. ``rare-word``: sharing a topic and a title word that is in at most 5 titles, within 31 days.
4. ``random``: any other pair, drawn uniformly.

In the first three the pairs fall into connected components (one burst of look-alike coverage, such
as June 2020's facial-recognition bans, is one component of hundreds of pairs); a component of n
pairs gets max(1, round(c * sqrt(n))) of them (at most n), c set so the stratum gets its count, and
they are drawn uniformly within it. So no one burst fills a stratum and every component is seen,
and each row's ``weight`` (the pairs of its stratum or component it stands for: population / drawn)
turns sample counts into estimates over every pair of the collection.

Writes ``eval/data/event_pairs.jsonl`` (id, stratum, a, b, half, weight: keys only, no labels) and,
for blind judging, ``pool-1..3.jsonl`` and ``GUIDE.md``: each pool line is
``{"id", "a": {title, excerpt, date, provider}, "b": {...}}`` and nothing else. Pair ids are given
after a seeded shuffle of every drawn pair (so an id says nothing of the stratum), the pools hold
them in another seeded order, and a and b are in seeded random order. Assessors write
``labels-N.jsonl``: ``{"id": "p0001", "same": true}``.
The split is fixed by pair id: held-out when the SHA-1 of the id is odd (as eval/graded.py).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import itertools
import json
import math
import random
import re
import shutil
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from whoosh.analysis import STOP_WORDS  # noqa: E402

from eval.graded import open_collection  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
SEED = 20261123
POOLS = 3
RELATED, TITLE, RARE, RANDOM = 120, 100, 100, 64  # pairs drawn per stratum: 384, 128 per pool
TITLE_JACCARD, TITLE_DAYS = 0.3, 7
RARE_DF, RARE_DAYS = 5, 31
STRATA = ("related", "title", "rare-word", "random")
WORD = re.compile(r"[a-z0-9]+")
EPOCH = datetime.datetime(1970, 1, 1)  # published is naive UTC: no local time zone in the day gaps

GUIDE = """\
# Judging: are these two news items reports of the same event?

Each line of `pool-N.jsonl` is one pair: `{"id": "p0001", "a": {...}, "b": {...}}`, each item with
its title, excerpt, date and provider. Judge from what is shown (do not look the items up), every
pair, in any order, and write `FOLDER/labels-N.jsonl` for `FOLDER/pool-N.jsonl`,
one line per pair:

    {"id": "p0001", "same": true}
    {"id": "p0002", "same": false}

`same` is true or false, nothing else; when unsure, apply the rules below and give the likelier
answer. Many pairs look alike, and the share of "same" answers is not fixed: judge each pair on
its own.

## Definitions

- An **event** is one specific happening at one time: an announcement, a launch or release, a
  ruling or a suit, a deal (acquisition, partnership, funding round), a study's or report's
  release, an incident (outage, breach, accident, protest), an appointment, a meeting.
- Two items are the **same event** when both report that happening. Different outlets, different
  headlines and angles, different details, and follow-ups within days that report the same
  happening all count as same.
- They are **different events** when they report different happenings, even about the same company,
  product, technology or topic. Sharing a company or a theme is never enough.

Method: for each item, say in one line what happened, who did it and when ("Acme announced on
3 May that it buys Beta"). Same when the two lines name one happening; different otherwise.
An item that reports no happening (an explainer, a how-to, a product documentation page, a
general trend piece, a customer story with no dated news) is the same event only as another copy of
the same piece (see syndicated copies).

## Borderline cases

- **Roundups and digests** (weekly news, "5 things", a newsletter, a show's episode covering
  several items): same only if the event is the roundup's main subject (its headline or lead).
  "Acme unveils the X1 chip" vs "This week in AI: Acme's X1, Globex's lawsuit and more": different.
  vs "Acme's X1 chip leads a busy week for AI hardware": same.
- **Follow-ups**: same if they report new developments of the same happening within about a week
  and name it (reactions, criticism, clarifications, a correction, the share price moving on it).
  A later separate happening is different, even if it grows out of the first.
  "Acme recalls its delivery robots" vs "Regulators question Acme's robot recall" (two days
  later): same. vs "Acme's robots return to the streets" (months later): different.
- **Several similar happenings**: "Acme drops plan X" and "Globex drops plan X" are different
  events, even on the same day and even if one mentions the other. An item covering several of
  them is the same as one only if that happening is its main subject (its news peg: "Globex joins
  Acme in dropping X" is Globex's event); one that gives them equal weight is a roundup.
- **Announcements at one conference, keynote or release wave**: different announcements are
  different events ("Acme adds an offline mode" vs "Acme announces new pricing", both at Acme's
  conference). Two items about the conference as a whole are the same event.
- **Syndicated copies, reposts, re-transmissions, press releases on several sites, wire stories
  on other sites**: same, even with a changed title, a different provider or a date a day or two
  apart. "Acme Releases DeskSuite 2" (a wire service) vs "RE-TRANSMISSION: Acme Releases
  DeskSuite 2" (another site): same.
- **Opinion and analysis**: same if centred on that specific happening ("Acme's recall does not
  go far enough"), different if about the general topic ("Why delivery robots need rules"), even
  when the happening is mentioned as an example.
- **Market research reports and press releases** from one publisher on different markets or
  subjects are different events, even on the same day with the same wording ("Smart glass market
  to 2027" vs "Drone battery market to 2027"). Two postings of one report (same market, same
  publisher) are copies: same.
- **Videos and podcasts**: judge by their described content, as an article. "Video: Acme shows
  the X1 chip on stage" vs "Acme unveils the X1 chip": same. "Podcast: where AI chips go next"
  vs "Acme unveils the X1 chip": different (the general topic).
"""


def title_words(title: str) -> frozenset[str]:
    """Lower-cased, accent-folded title words, without stop words or one-letter words."""
    folded = unicodedata.normalize("NFKD", title.lower()).encode("ascii", "ignore").decode()
    return frozenset(w for w in WORD.findall(folded) if len(w) > 1 and w not in STOP_WORDS)


def related_pairs(docs: list[dict]) -> set[tuple[str, str]]:
    """Every pair inside one ``related:`` list (the article with its items, the items together)."""
    lists: dict[str, set[str]] = defaultdict(set)
    for d in docs:
        for parent in d["parents"]:
            lists[parent].update((parent, d["key"]))
    return {pair for members in lists.values() for pair in itertools.combinations(sorted(members), 2)}


def components(pairs: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """Pairs grouped by the connected component of the graph they draw (named by its first key)."""
    root: dict[str, str] = {}

    def find(key: str) -> str:
        root.setdefault(key, key)
        while root[key] != key:
            root[key] = root[root[key]]
            key = root[key]
        return key

    for a, b in pairs:
        root[find(a)] = find(b)
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for pair in pairs:
        groups[find(pair[0])].append(pair)
    return {min(k for p in g for k in p): g for g in groups.values()}


def classify(docs: list[dict]) -> dict[str, list[tuple[str, str]]]:
    """The pairs of the related, title and rare-word strata (disjoint, in that priority)."""
    related = related_pairs(docs)
    words = {d["key"]: title_words(d["title"]) for d in docs}
    df = Counter(w for ws in words.values() for w in ws)
    rare = {k: {w for w in ws if df[w] <= RARE_DF} for k, ws in words.items()}
    when = {d["key"]: (d["published"].replace(tzinfo=None) - EPOCH).total_seconds() / 86400 for d in docs}
    topics = {d["key"]: set(d["topics"]) for d in docs}
    strata: dict[str, list[tuple[str, str]]] = {s: [] for s in STRATA[:3]}
    for a, b in itertools.combinations(sorted(words), 2):
        if (a, b) in related:
            strata["related"].append((a, b))
            continue
        days = abs(when[a] - when[b])
        union = words[a] | words[b]
        if union and len(words[a] & words[b]) / len(union) >= TITLE_JACCARD and days <= TITLE_DAYS:
            strata["title"].append((a, b))
        elif days <= RARE_DAYS and topics[a] & topics[b] and rare[a] & rare[b]:
            strata["rare-word"].append((a, b))
    return strata


def component_quota(sizes: dict[str, int], total: int) -> dict[str, int]:
    """Pairs to draw per component: max(1, round(c * sqrt(n))), capped at n, summing to ``total``."""
    if len(sizes) > total:
        raise ValueError(f"{len(sizes)} components cannot each get a pair out of {total}")

    def quota(c: float) -> dict[str, int]:
        return {r: min(n, max(1, round(c * math.sqrt(n)))) for r, n in sizes.items()}

    low, high = 0.0, float(total)
    for _ in range(60):  # bisect for the largest c whose quota does not exceed the total
        mid = (low + high) / 2
        low, high = (mid, high) if sum(quota(mid).values()) <= total else (low, mid)
    chosen = quota(low)
    # rounding may leave a few short: give them to the components furthest below c * sqrt(n)
    short = sorted((chosen[r] - low * math.sqrt(n), r) for r, n in sizes.items() if chosen[r] < n)
    for _, r in short[: total - sum(chosen.values())]:
        chosen[r] += 1
    return chosen


def draw(docs: list[dict], rng: random.Random) -> tuple[list[dict], dict[str, int]]:
    """Drawn pairs (stratum, pair, weight) and each stratum's population."""
    strata = classify(docs)
    n = len(docs)
    population = {s: len(p) for s, p in strata.items()}
    population["random"] = n * (n - 1) // 2 - sum(population.values())
    drawn: list[dict] = []
    for name, count in (("related", RELATED), ("title", TITLE), ("rare-word", RARE)):
        groups = components(strata[name])
        quota = component_quota({r: len(p) for r, p in groups.items()}, count)
        for r in sorted(groups):
            for pair in rng.sample(groups[r], quota[r]):
                drawn.append({"stratum": name, "pair": pair, "weight": len(groups[r]) / quota[r]})
    taken = {p for pairs in strata.values() for p in pairs}
    keys = sorted(d["key"] for d in docs)
    chosen: set[tuple[str, str]] = set()
    while len(chosen) < RANDOM:
        pair = tuple(sorted(rng.sample(keys, 2)))
        if pair not in taken and pair not in chosen:
            chosen.add(pair)
            drawn.append({"stratum": "random", "pair": pair, "weight": population["random"] / RANDOM})
    return drawn, population


def half(pair_id: str) -> str:
    return "held-out" if hashlib.sha1(pair_id.encode()).digest()[-1] % 2 else "tuning"


def shown(doc: dict) -> dict:
    """What an assessor reads of one item, and nothing else."""
    published = doc.get("published")
    return {
        "title": doc.get("title", ""),
        "excerpt": doc.get("excerpt", ""),
        "date": published.date().isoformat() if published else "",
        "provider": doc.get("provider", "") or doc.get("provider_domain", ""),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool-dir", type=Path, default=Path("/tmp/event"), help="where the blind pools go")
    args = parser.parse_args()
    engine, folder = open_collection()
    try:
        docs = sorted(engine.stored_documents(), key=lambda d: d["key"])
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
    by_key = {d["key"]: d for d in docs}
    rng = random.Random(SEED)
    drawn, population = draw(docs, rng)
    rng.shuffle(drawn)  # ids in this order: an id says nothing of its stratum
    rows = []
    for i, row in enumerate(drawn, 1):
        a, b = row["pair"] if rng.random() < 0.5 else row["pair"][::-1]
        pair_id = f"p{i:04d}"
        rows.append(
            {
                "id": pair_id,
                "stratum": row["stratum"],
                "a": a,
                "b": b,
                "half": half(pair_id),
                "weight": round(row["weight"], 4),
            }
        )
    assert len({frozenset((r["a"], r["b"])) for r in rows}) == len(rows), "a pair was drawn twice"
    DATA.mkdir(exist_ok=True)
    with open(DATA / "event_pairs.jsonl", "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    order = rows[:]
    rng.shuffle(order)
    args.pool_dir.mkdir(parents=True, exist_ok=True)
    size = math.ceil(len(order) / POOLS)
    for n in range(POOLS):
        with open(args.pool_dir / f"pool-{n + 1}.jsonl", "w", encoding="utf-8") as out:
            for row in order[n * size : (n + 1) * size]:
                line = {"id": row["id"], "a": shown(by_key[row["a"]]), "b": shown(by_key[row["b"]])}
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
    (args.pool_dir / "GUIDE.md").write_text(GUIDE.replace("FOLDER", str(args.pool_dir)), encoding="utf-8")
    counts = Counter(r["stratum"] for r in rows)
    halves = Counter((r["stratum"], r["half"]) for r in rows)
    print(f"{len(docs)} documents, {len(rows)} pairs -> {DATA / 'event_pairs.jsonl'}")
    for s in STRATA:
        print(
            f"  {s:10} {counts[s]:4} drawn of {population[s]:7} pairs"
            f" ({halves[s, 'tuning']} tuning, {halves[s, 'held-out']} held-out)"
        )
    print(f"pools: {', '.join(str(args.pool_dir / f'pool-{n + 1}.jsonl') for n in range(POOLS))}; guide GUIDE.md")


if __name__ == "__main__":
    main()
