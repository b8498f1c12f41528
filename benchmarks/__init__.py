"""`make bench`: tinygrad_iris timed against a hand-written floor and its peers, in one process.

Run ``python -m benchmarks [--quick] [--json PATH] [--plot PATH]``. Each workload is one
module in this package with a ``NAME`` and a ``run(budget) -> list[Row]``; `WORKLOADS`
lists them in the order the table shows them (adding a workload is one module and one name).

To judge a change to the engine's speed, ``python -m benchmarks.paired [REVISION]`` times this
checkout's engine against an older commit's in one process, paired (`benchmarks.paired`).
"""

WORKLOADS = ("iris_step", "wide_mlp", "scalar_mlp", "chain", "graph_drawing")
