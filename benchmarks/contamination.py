"""The contamination check's speed and accuracy: index build, a 100k-row check, and the planted-contamination table.

1. Builds the benchmark index for every suite from the mirror (a fresh cache directory each round): wall time,
   size on disk, documents and n-grams.
2. Writes a 100k-row JSONL dataset of about 20M words (``--rows``, ``--words-per-row``): chat rows made of GSM8K
   **train** problems with their solutions and paragraphs of this repository's docs, shuffled and recombined, with
   the planted variants of tests/contamination/contamination_plants.py mixed in; then times ``check_file`` on it
   (reading the file as an upload is read, then the check) with the index already built.
3. Prints the precision/recall table of the planted cases (docs/contamination.md quotes it).

    .venv/bin/python benchmarks/contamination.py --rounds 3
    MODELMATE_BENCHMARK_DATA_DIR=/path/to/benchmarks .venv/bin/python benchmarks/contamination.py --rows 20000

Targets (issue 20): index build ≤ 120 s, a 100k-row / ~20M-token check ≤ 60 s. The load average is printed with the
numbers: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests" / "contamination"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import contamination_plants as plants  # noqa: E402
from harness import load_average  # noqa: E402

from modelmate.contamination.check import check_file  # noqa: E402
from modelmate.contamination.index import index_stats, load_or_build  # noqa: E402


def _dataset(path: Path, root: Path, rows: int, words_per_row: int, seed: int) -> tuple[int, int]:
    rng = random.Random(seed)
    pieces = [plants.record_texts(r) for r in plants.clean_records(root, REPO, 10**9)]
    # one file has one format (as an upload): every plant becomes a chat row holding its text
    planted = [{"messages": [{"role": "user", "content": plants.record_texts(p.record)},
                             {"role": "assistant", "content": "Noted."}]}
               for item in plants.items(root) for p in plants.variants(item, pieces[0])]
    slots = set(rng.sample(range(rows), len(planted)))
    words = 0
    with open(path, "w", encoding="utf-8") as fh:
        queue = iter(planted)
        for number in range(rows):
            if number in slots:
                record = next(queue)
            else:
                parts: list[str] = []
                size = 0
                target = rng.randint(words_per_row // 2, words_per_row * 3 // 2)
                while size < target:
                    piece = rng.choice(pieces)
                    parts.append(piece)
                    size += len(piece.split())
                half = max(1, len(parts) // 2)
                record = {"messages": [{"role": "user", "content": "\n\n".join(parts[:half])},
                                       {"role": "assistant", "content": "\n\n".join(parts[half:]) or "OK"}]}
            words += len(plants.record_texts(record).split())
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return words, len(planted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--words-per-row", type=int, default=160)
    parser.add_argument("--data", type=Path,
                        default=Path(os.environ.get("MODELMATE_BENCHMARK_DATA_DIR", REPO.parent / "shared/benchmarks")))
    args = parser.parse_args()
    root = args.data if (args.data / "SOURCES.md").is_file() else Path("/work/shared/benchmarks")
    print(f"benchmark mirror: {root}; load average before: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="mm-contamination-") as tmp:
        builds = []
        for r in range(args.rounds):
            started = time.perf_counter()
            index = load_or_build(root, Path(tmp) / f"cache{r}")
            builds.append(time.perf_counter() - started)
        stats = index_stats(index)
        started = time.perf_counter()
        assert not load_or_build(root, Path(tmp) / f"cache{args.rounds - 1}").built
        reuse = time.perf_counter() - started
        print(f"index build: best {min(builds):.1f} s, all {[round(b, 1) for b in builds]}; reload {reuse:.2f} s; "
              f"{stats['documents']:,} documents, {stats['grams13']:,} 13-grams, {stats['gramsc']:,} content n-grams, "
              f"{stats['questions']:,} questions; {stats['bytes'] / 2**20:.1f} MiB on disk ({index.version})")
        path = Path(tmp) / "dataset.jsonl"
        words, planted = _dataset(path, root, args.rows, args.words_per_row, seed=5)
        print(f"dataset: {args.rows:,} rows, {words:,} words (whitespace-split), "
              f"{path.stat().st_size / 2**20:.0f} MiB, "
              f"{planted} planted variants")
        checks = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            report = check_file(path, index)
            checks.append((time.perf_counter() - started, report.seconds))
        best = min(checks)
        print(f"check_file: best {best[0]:.1f} s (of which the check {best[1]:.1f} s, reading the file the rest), "
              f"all {[round(c[0], 1) for c in checks]}; {report.tokens_checked:,} normalised words checked; "
              f"{report.tokens_checked / best[1] / 1e6:.2f} M words/s")
        print(f"  {report.summary()}")
        measured = plants.measure(index, root, REPO)
        print("planted contamination among 2,000 clean rows (GSM8K train + docs paragraphs):")
        print(measured.table())
    print(f"load average after: {load_average()}")
    print(f"targets: build ≤ 120 s: {'met' if min(builds) <= 120 else 'MISSED'}; "
          f"check ≤ 60 s: {'met' if best[0] <= 60 else 'MISSED'}")


if __name__ == "__main__":
    main()
