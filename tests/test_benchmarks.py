"""The benchmark harness runs every workload end to end on tiny sizes (no time is asserted)."""

import json

import numpy as np
import pytest

from benchmarks import WORKLOADS
from benchmarks.__main__ import main
from benchmarks.peers import NOT_INSTALLED
from benchmarks.report import markdown
from benchmarks.timing import TINY, Contender, assert_same, compare

OPTIONAL_PEERS = {"PyTorch eager (1 thread)", "HIPS autograd", "JAX jit (CPU, 1 thread)"}
TARGETED = ("iris step", "wide MLP step", "scalar MLP")  # the chain's target sits on its largest n


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    json_path, plot_path = folder / "bench.json", folder / "scaling.png"
    assert main(["--budget", "tiny", "--json", str(json_path), "--plot", str(plot_path)]) == 0
    return json.loads(json_path.read_text()), plot_path


def test_every_workload_reports_the_engine_and_its_floor(recorded):
    record, _ = recorded
    rows = record["rows"]
    names = {__import__(f"benchmarks.{w}", fromlist=["NAME"]).NAME for w in WORKLOADS}
    assert {r["workload"].split(" (n=")[0] for r in rows} == names
    for workload in {r["workload"] for r in rows}:
        mine = [r for r in rows if r["workload"] == workload]
        floor = [r for r in mine if r["floor"]]
        assert len(floor) == 1 and floor[0]["ratio"] == 1.0
        ours = next(r for r in mine if r["contender"] == "tinygrad_iris")
        assert ours["timing"]["median"] > 0
        assert ours["target"] or not workload.startswith(TARGETED)  # issue 6's targets are reported


def test_only_optional_peers_or_recursion_failures_go_untimed(recorded):
    for row in recorded[0]["rows"]:
        if row["timing"] is None:
            assert (row["contender"] in OPTIONAL_PEERS and row["note"] == NOT_INSTALLED) or (
                row["contender"] == "micrograd" and "RecursionError" in row["note"]
            ), row


def test_anomaly_mode_costs_are_reported(recorded):
    rows = [r for r in recorded[0]["rows"] if r["contender"] == "tinygrad_iris (detect_anomaly on)"]
    assert {r["workload"] for r in rows} >= {"scalar MLP 2-16-16-1 x 20 (GC off)"}
    scalar = next(r for r in rows if r["workload"].startswith("scalar"))
    assert "off, its checks cost" in scalar["note"] and scalar["extra"]["anomaly_off_seconds_per_op"] >= 0


def test_chain_graph_is_released_and_measured(recorded):
    chain = [r for r in recorded[0]["rows"] if r["workload"].startswith("chain")]
    ours = [r for r in chain if r["contender"] == "tinygrad_iris"]
    assert [r["extra"]["n"] for r in ours] == list(TINY.chain_sizes)
    assert all("released without GC: True" in r["note"] and r["extra"]["bytes_per_node"] > 0 for r in ours)
    assert "flatness" in ours[-1]["extra"]


def test_outputs_are_written(recorded):
    record, plot_path = recorded
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert record["versions"]["numpy"] == np.__version__
    page = markdown(record, "scaling.png")
    assert "| tinygrad_iris |" in page and "scaling.png" in page and record["command"] in page


def test_a_contender_computing_less_is_refused():
    expected = [("loss", 1.0), ("d loss/d W", np.array([1.0, 2.0]))]
    assert_same("w", "honest", [("loss", 1.0), ("d loss/d W", np.array([1.0, 2.0]))], expected)
    with pytest.raises(AssertionError, match="lazy computes a different d loss/d W"):
        assert_same("w", "lazy", [("loss", 1.0), ("d loss/d W", np.zeros(2))], expected)


def test_compare_interleaves_and_reports_every_contender():
    calls = []
    contenders = [Contender(name, lambda _, name=name: calls.append(name)) for name in "abc"]
    timings = compare(contenders, TINY)
    assert set(timings) == {"a", "b", "c"} and all(t.reps == TINY.reps for t in timings.values())
    timed = calls[-3 * TINY.reps :]
    rotations = [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    assert [timed[i : i + 3] for i in range(0, len(timed), 3)] == rotations


def test_paired_runs_an_older_commit_as_another_package(capsys, tmp_path):
    import tinygrad_iris
    from benchmarks import paired

    old = paired.old_package("HEAD", str(tmp_path))
    assert old.__name__ == "tinygrad_iris_HEAD" and old is not tinygrad_iris
    assert old.Value is not tinygrad_iris.Value and old.__file__.startswith(str(tmp_path))
    assert (old.Value(3.0) * 2).data == 6.0
    with pytest.raises(SystemExit, match="cannot read tinygrad_iris at 'no-such-commit'"):
        paired.old_package("no-such-commit", str(tmp_path / "none"))
    assert paired.main(["HEAD", "--reps", "1", "--only", "iris_step", "scalar_mlp"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "old HEAD" in lines[1]
    assert [line.split("  ")[0] for line in lines[3:]] == ["iris step", "scalar MLP 2-16-16-1 x 20"]
