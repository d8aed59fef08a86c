"""How long `newsletter --help` takes to start, as a user meets it (a new process each time).

Prints the median of 5 runs of the installed console script, beside a floor measured in the same run: a bare
interpreter importing Flask and Click (what any Flask CLI pays), so a slow machine shows as a slow floor,
not as a slow command. The target (issue 17) is a median of at most 0.5 s on these 2-core machines.

    .venv/bin/python bench/cli_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def median_seconds(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    floor = median_seconds([sys.executable, "-c", "import click, flask"], runs)
    help_time = median_seconds([str(BIN / "newsletter"), "--help"], runs)
    print(f"floor (python -c 'import click, flask'): {floor:.3f} s median of {runs}")
    print(f"newsletter --help: {help_time:.3f} s median of {runs} ({help_time / floor:.2f} x floor); target <= 0.5 s")


if __name__ == "__main__":
    main()
