"""Timing a command as a user runs it: a whole process, timed from outside."""

import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import SQLModel

import alerter.models
import subscriptions.models
from alerter.db import create_db_engine, migrate

# The console script pip installed beside this interpreter: what a user types.
ALERTER = str(Path(sys.executable).parent / "alerter")


@dataclass(frozen=True)
class Run:
    """One finished process: its wall time, the CPU time (user + system) it and the children
    it waited for used, and its output."""

    wall: float
    cpu: float
    stdout: str
    stderr: str

    def figures(self) -> str:
        return f"{self.wall:.2f} s wall, {self.cpu:.2f} s CPU"


def run_timed(args: Sequence[str], env: Mapping[str, str] | None = None) -> Run:
    """Run `args` to completion; a failure stops the benchmark with the command's own error."""
    before = _children_cpu()
    started = time.perf_counter()
    process = subprocess.run(
        args, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {process.returncode}:\n{process.stderr[-3000:]}")
    return Run(wall, _children_cpu() - before, process.stdout, process.stderr)


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


def empty_database(url: str) -> None:
    """The schema at its latest, every table empty: a database given by URL serves each run."""
    assert alerter.models and subscriptions.models  # every table known to the metadata
    engine = create_db_engine(url)
    migrate(engine)
    with engine.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()
