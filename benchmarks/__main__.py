"""``python -m benchmarks [--quick] [--json PATH] [--plot PATH]``: run every workload, print one table."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from . import WORKLOADS
from .peers import machine, optional, versions
from .results import as_dicts, plot_scaling, table, write_json
from .timing import BUDGETS, FULL, QUICK, Budget, Row


def run_all(budget: Budget, workloads: Sequence[str] = WORKLOADS) -> list[Row]:
    """Every workload's rows, measured in this process."""
    rows: list[Row] = []
    for name in workloads:
        module: Any = importlib.import_module(f"{__package__}.{name}")
        rows += module.run(budget)
    return rows


def single_thread_blas() -> tuple[Any, list[dict[str, Any]]]:
    """Limit NumPy's BLAS to one thread, like PyTorch here; return the limiter and BLAS info."""
    threadpoolctl = optional("threadpoolctl")
    if threadpoolctl is None:
        return None, [{"note": "threadpoolctl not installed: NumPy's BLAS ran with its default threads"}]
    limiter = threadpoolctl.threadpool_limits(limits=1, user_api="blas")
    return limiter, threadpoolctl.threadpool_info()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, chains up to 1e5")
    parser.add_argument("--budget", choices=sorted(BUDGETS), help=argparse.SUPPRESS)
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    parser.add_argument("--plot", metavar="PATH", help="write the log-log scaling plot as PNG")
    parser.add_argument("--only", nargs="+", choices=WORKLOADS, default=WORKLOADS, help="run these only")
    args = parser.parse_args(argv)
    budget = BUDGETS[args.budget] if args.budget else QUICK if args.quick else FULL

    _limiter, blas = single_thread_blas()
    started, load_before = time.time(), os.getloadavg()
    rows = as_dicts(run_all(budget, args.only))
    print(table(rows))
    record = {
        "command": " ".join(["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])]),
        "budget": budget.name,
        "seconds": round(time.time() - started, 1),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        # other processes on the machine slow the contenders; the paired ratios resist it
        "load_average_1min": {"before": load_before[0], "after": os.getloadavg()[0]},
        "machine": machine(blas),
        "versions": versions(),
        "rows": rows,
    }
    if args.json:
        write_json(args.json, record)
    if args.plot:
        plot_scaling(args.plot, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
