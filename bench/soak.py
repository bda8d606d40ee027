"""Soak test (run on demand, not in CI): load the server for minutes while the index updates.

    python bench/soak.py [--minutes 5] [--update-every 3] [--connections 8]

Copies the Power Apps corpus (base snapshot) to a temporary folder, builds the index, serves
it with ``search-cli serve``, and runs wrk over a rotating mix of queries while, every few
seconds, the next real update of ``microsoft-power-apps/updates`` (then synthetic quality
edits) is applied and ``search-cli index`` runs. Samples the server's RSS every second.

Passes (exit 0) when no request failed and the server's memory is flat: the last minute's
median RSS is within 15% (and 50 MiB) of the first minute's.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving import start_server, wrk_rotation  # noqa: E402

POWER_APPS = ROOT / "tests" / "fixtures" / "corpus" / "microsoft-power-apps"
QUERIES = [
    "power apps",
    "dataverse",
    "teams",
    "ai builder",
    "portal",
    "power automate",
    "microsoft",
    "licensing",
    "canvas",
    "low code",
    "azure",
    "copilot",
    "flow",
    "sharepoint",
    "dynamics 365",
    "-teams apps",
]


def cli(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "web.cli", *args], env=env, **kwargs)


def rss_mib(pid: int) -> float:
    return int(re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text()).group(1)) / 1024


def apply_update(seeds: Path, update: Path) -> None:
    for line in (update / "CHANGES").read_text().splitlines():
        status, path = line.split(maxsplit=1)
        if status == "D":
            (seeds / path).unlink(missing_ok=True)
        else:
            shutil.copyfile(update / path, seeds / path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--update-every", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    seconds = int(args.minutes * 60)

    work = Path(tempfile.mkdtemp(prefix="news-soak-"))
    seeds, index = work / "seeds", work / "index"
    shutil.copytree(POWER_APPS / "base", seeds)
    cli("--index", str(index), "--seeds", str(seeds), "index", "--quiet", stdout=subprocess.DEVNULL).wait()
    server, port = start_server(index)
    paths = [f"/api/search?q={q.replace(' ', '+')}&filter=kind:article" for q in QUERIES]
    rotation = wrk_rotation(paths, work)
    load = subprocess.Popen(
        [
            "wrk",
            "-t2",
            f"-c{args.connections}",
            f"-d{seconds}s",
            "--latency",
            *rotation,
            f"http://127.0.0.1:{port}/",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )

    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        started = time.monotonic()
        while not stop.is_set():
            samples.append((time.monotonic() - started, rss_mib(server.pid)))
            stop.wait(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    updates = sorted((POWER_APPS / "updates").iterdir())
    files = sorted(seeds.rglob("*.md"))
    done = failed_updates = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if done < len(updates):
            apply_update(seeds, updates[done])
        else:  # after the real updates: edit a quality value in a few files
            for path in files[done % len(files) : done % len(files) + 3]:
                text = path.read_text(encoding="utf-8")
                path.write_text(
                    re.sub(r"quality: (\d+)", lambda m: f"quality: {(int(m.group(1)) + 1) % 100}", text, count=1),
                    encoding="utf-8",
                )
        code = cli(
            "--index", str(index), "--seeds", str(seeds), "index", "--quiet", "--wait", stdout=subprocess.DEVNULL
        ).wait()
        failed_updates += code not in (0, 3)
        done += 1
        time.sleep(args.update_every)
    out, _ = load.communicate()
    stop.set()
    sampler.join()
    server.terminate()
    server.wait(timeout=10)

    requests = re.search(r"(\d+) requests in", out)
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_total = sum(int(x) for x in socket_errors.groups()) if socket_errors else 0
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+(\S+)", out)
    first = statistics.median(r for t, r in samples if t < 60) if samples else 0.0
    last = statistics.median(r for t, r in samples if t > samples[-1][0] - 60) if samples else 0.0
    print(
        f"soak: {args.minutes:g} min, {done} index updates ({failed_updates} failed), "
        f"{requests.group(1) if requests else '?'} requests, {rps.group(1) if rps else '?'} req/s, "
        f"p99 {p99.group(1) if p99 else '?'}"
    )
    print(f"failed requests: non-2xx {non2xx}, socket errors {socket_total}")
    print(
        f"server RSS median: first minute {first:.0f} MiB, last minute {last:.0f} MiB, "
        f"peak {max((r for _, r in samples), default=0):.0f} MiB"
    )
    shutil.rmtree(work, ignore_errors=True)
    flat = last <= first * 1.15 or last - first < 50
    ok = non2xx == 0 and socket_total == 0 and failed_updates == 0 and flat
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
