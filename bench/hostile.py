"""Figures for issue 12: the hostile corpus, random damage, and the memory estimate against RSS.

    python bench/hostile.py               # all three, ~3 minutes on 2 busy cores
    python bench/hostile.py --random 200  # fewer random damages

Prints (1) tried / refused / opened / escaped of tests/runs/hostile_corpus.py's files opened in a
child process (built in another), with that child's peak RSS; (2) the same counts for seeded
single-bit flips and 16-byte overwrites of a valid file; (3) measured peak RSS above torch's
baseline against budget.estimate_bytes (history left out) for a few sizes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent / "tests" / "runs" / "hostile_corpus.py"
SIZES = [
    [dict(depth=50, width=512, batch_size=256)],
    [dict(depth=12, width=1024, batch_size=256, optimizer="adam", lr=0.001)],
    [dict(depth=10, width=256, batch_size=960, batchnorm=True, dropout=0.2)] * 2,
    [dict(depth=8, width=2048, batch_size=960)],
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--random", type=int, default=500, help="random damages of each kind (default 500)")
    args = ap.parse_args()
    corpus = subprocess.run([sys.executable, str(CORPUS)], capture_output=True, text=True, check=True)
    print("hand-made corpus:", corpus.stdout.strip())
    damage = subprocess.run([sys.executable, str(CORPUS), "--random", str(args.random)], capture_output=True, text=True, check=True)
    print("random damage:   ", damage.stdout.strip())
    sys.path.insert(0, str(CORPUS.parent))
    from test_budget import MEASURE

    for configs in SIZES:
        got = json.loads(subprocess.run([sys.executable, "-c", MEASURE, json.dumps(configs)], capture_output=True,
                                        text=True, check=True).stdout)  # fmt: skip
        c = configs[0]
        print(f"{len(configs)} x depth {c['depth']} x width {c['width']}, batch {c['batch_size']}, {c.get('optimizer', 'sgd')}"
              f"{' bn' if c.get('batchnorm') else ''}{' dropout' if c.get('dropout') else ''}: measured "
              f"{got['measured'] / 2**20:.0f} MB, estimate {got['estimate'] / 2**20:.0f} MB, "
              f"ratio {got['measured'] / got['estimate']:.2f}")


if __name__ == "__main__":
    main()
