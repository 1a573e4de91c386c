"""Benchmark: `alerter --help` as a user runs it (a whole process, timed from outside), which is
what every command pays before doing anything: starting Python and importing `alerter.cli`.

Runs it ten times and prints the fastest and the median run beside the target (under 0.3 s),
with the import time of `alerter.cli` alone. Run from the repository root:

    .venv/bin/python -m bench.cli_start
"""

import statistics
import subprocess
import sys

from bench.commands import ALERTER, run_timed

RUNS = 10


def main() -> None:
    runs = [run_timed([ALERTER, "--help"]) for _ in range(RUNS)]
    walls = sorted(run.wall for run in runs)
    cpus = sorted(run.cpu for run in runs)
    print(
        f"alerter --help, {RUNS} runs: fastest {walls[0]:.2f} s, median "
        f"{statistics.median(walls):.2f} s wall; median {statistics.median(cpus):.2f} s CPU "
        "(target < 0.3 s)"
    )
    program = (
        "import time; t = time.perf_counter(); import alerter.cli; print(time.perf_counter() - t)"
    )
    imports = sorted(
        float(
            subprocess.run(
                [sys.executable, "-c", program], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(RUNS)
    )
    print(f"import alerter.cli alone: median {statistics.median(imports):.2f} s")


if __name__ == "__main__":
    main()
