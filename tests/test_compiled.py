"""`tinygrad_iris.compile`: the replayed tape equals the eager engine bit for bit, and its limits are loud."""

import itertools
import math
import sys
import warnings
from unittest import mock

import numpy as np
import pytest
from hypothesis import given

import tinygrad_iris as tg
from tinygrad_iris import Value, cross_entropy, detect_anomaly, log_softmax, nll_loss, no_grad, training
from tinygrad_iris import compiled as compiled_module
from tinygrad_iris.cli import main
from tinygrad_iris.compiled import CHECK_ENV, ReplayMismatch
from tinygrad_iris.iris import load_iris
from tinygrad_iris.network import IrisNetwork
from tinygrad_iris.testing import assert_replayed, check_compiled, programs, same_bits
from tinygrad_iris.training import train


def mlp_params(rng, sizes=(4, 8, 3)):
    return [
        Value(rng.standard_normal((sizes[0], sizes[1])), name="W1"),
        Value(rng.uniform(-0.1, 0.1, sizes[1]), name="b1"),
        Value(rng.standard_normal((sizes[1], sizes[2])), name="W2"),
        Value(rng.uniform(-0.1, 0.1, sizes[2]), name="b2"),
    ]


def mlp_loss(params):
    def loss(x, targets):
        w1, b1, w2, b2 = params
        return cross_entropy((x @ w1 + b1).relu() @ w2 + b2, targets)

    return loss


def sgd(params, loss, lr=0.1):
    for p in params:
        p.grad = None
    loss.backward()
    for p in params:
        p.data -= lr * p.grad


def test_sgd_steps_with_changing_batches_equal_eager_bit_for_bit():
    rng = np.random.default_rng(0)
    eager = mlp_params(np.random.default_rng(1))
    ours = [Value(p.data.copy(), name=p.name) for p in eager]
    step = tg.compile(mlp_loss(ours))
    x_all, t_all = rng.uniform(0, 1, (200, 4)), np.arange(200) % 3
    for i in range(12):
        rows = rng.permutation(200)[: 50 if i < 8 else 30]  # a new batch every step, a new size later
        x, t = x_all[rows], t_all[rows]
        eager_loss, loss = mlp_loss(eager)(x, t), step(x, t)
        if i not in (0, 8):  # not a trace: the tape ran
            assert_replayed(step, loss)
        assert same_bits(loss.data, eager_loss.data), i
        sgd(eager, eager_loss)
        sgd(ours, loss)
        for a, b in zip(ours, eager):
            assert same_bits(a.data, b.data), (i, a.name)
    assert len(step.tapes) == 2  # batch 50 and batch 30: one trace each
    assert not any(t.eager_only for t in step.tapes.values())


def test_the_loss_and_gradients_of_each_replayed_call_are_the_eager_ones():
    rng = np.random.default_rng(2)
    params = mlp_params(rng)
    step = tg.compile(mlp_loss(params))
    for call in range(4):
        x, t = rng.uniform(0, 1, (20, 4)), rng.integers(0, 3, 20)
        eager = mlp_loss(params)(x, t)
        eager.backward()
        expected = [p.grad for p in params]
        for p in params:
            p.grad = None
        loss = step(x, t)
        if call:
            assert_replayed(step, loss)
        assert same_bits(loss.data, eager.data)
        loss.backward()
        for p, want in zip(params, expected):
            assert same_bits(p.grad, want)
            p.grad = None


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("layout", ["rows", "one row", "transposed"])
def test_cross_entropy_saves_no_value_of_the_traced_batch(reduction, layout):
    """The fused cross-entropy and its general form (any reduction, 1-D or strided logits)."""
    rng = np.random.default_rng(9)
    w = Value(rng.standard_normal((3, 4)))

    def fn(x, targets):
        logits = x @ w if layout == "rows" else (x @ w)[0] if layout == "one row" else (w.T @ x.T).T
        return (cross_entropy(logits, targets, reduction) * 1.5).sum()

    f = tg.compile(fn)
    rows = 1 if layout == "one row" else 6
    f(rng.uniform(-1, 1, (rows, 3)), rng.integers(0, 4, rows))
    x, t = rng.uniform(-1, 1, (rows, 3)), rng.integers(0, 4, rows)
    eager = fn(Value(x, requires_grad=False), t)
    eager.backward()
    expected, w.grad = w.grad, None
    out = assert_replayed(f, f(x, t))
    out.backward()
    assert same_bits(out.data, eager.data) and same_bits(w.grad, expected)


@pytest.mark.parametrize("body", [
    lambda h, b: ((h + b).relu() * 2.0).sum(),  # h's buffer takes h + b: nothing else reads h
    lambda h, b: ((h + b) * h).sum(),  # h is read twice: its buffer stays
    lambda h, b: (h.exp() + b).relu().sum(),  # exp's backward reads its output: kept
    lambda h, b: ((h - b).relu().relu() * (h - b)).sum(),  # relu's gradient in place, twice
])
def test_buffers_are_reused_only_where_no_later_step_reads_them(body):
    rng = np.random.default_rng(10)
    w, b = Value(rng.standard_normal((3, 4))), Value(rng.standard_normal(4))
    f = tg.compile(lambda x: body(x @ w, b))
    f(rng.standard_normal((5, 3)))
    x = rng.standard_normal((5, 3))
    eager = body(Value(x, requires_grad=False) @ w, b)
    eager.backward()
    expected, w.grad, b.grad = (w.grad, b.grad), None, None
    out = assert_replayed(f, f(x))
    out.backward()
    assert same_bits(out.data, eager.data)
    assert same_bits(w.grad, expected[0]) and same_bits(b.grad, expected[1])


def test_a_second_backward_accumulates_like_eager():
    rng = np.random.default_rng(3)
    params = mlp_params(rng)
    x, t = rng.uniform(0, 1, (10, 4)), rng.integers(0, 3, 10)
    eager = mlp_loss(params)(x, t)
    eager.backward()
    eager.backward()
    twice = [p.grad.copy() for p in params]
    for p in params:
        p.grad = None
    step = tg.compile(mlp_loss(params))
    step(x, t)  # the trace
    loss = assert_replayed(step, step(x, t))
    loss.backward()
    loss.backward()
    assert all(same_bits(p.grad, want) for p, want in zip(params, twice))


@given(program=programs(max_ops=12))
def test_a_planted_compile_bug_fails_the_fuzzers_compiled_check(program):
    """check_compiled, the fuzzer's compiled-equals-eager check (tests/test_fuzz.py runs it on every
    program): a replay whose output is off by one, or a call that runs fn eagerly, fails it."""
    check_compiled(program, program.inputs, program.seed)
    result = compiled_module._result
    off = mock.patch.object(compiled_module, "_result", lambda data, *rest: result(data + 1, *rest))
    with off, pytest.raises(AssertionError, match="the output differs"):
        check_compiled(program, program.inputs, program.seed)
    eagerly = mock.patch.object(compiled_module.Compiled, "_trace", lambda self, args, key: self.fn(*args))
    with eagerly, pytest.raises(AssertionError, match="did not replay its tape"):
        check_compiled(program, program.inputs, program.seed)


def scalar_mlp(rng, sizes=(2, 6, 6, 1)):
    return [
        [([Value(rng.uniform(-1, 1)) for _ in range(n_in)], Value(0.0)) for _ in range(n_out)]
        for n_in, n_out in itertools.pairwise(sizes)
    ]


def scalar_loss(layers):
    """micrograd's way: a network of scalar Values, sum of squared errors over the samples."""

    def loss(xs, ys):
        total = 0.0
        for x, y in zip(xs, ys):
            for k, layer in enumerate(layers):
                x = [sum((w * xi for w, xi in zip(ws, x)), b) for ws, b in layer]
                x = [v.tanh() if k == 0 else v.relu() for v in x] if k < len(layers) - 1 else x
            total = total + (x[0] - y) ** 2
        return total

    return loss


def scalar_params(layers):
    return [p for layer in layers for ws, b in layer for p in (*ws, b)]


def test_scalar_graphs_replay_as_a_tape_of_float_ops():
    rng = np.random.default_rng(4)
    eager_layers = scalar_mlp(np.random.default_rng(5))
    our_layers = scalar_mlp(np.random.default_rng(5))
    step = tg.compile(scalar_loss(our_layers))
    eager_params, our_params = scalar_params(eager_layers), scalar_params(our_layers)
    for call in range(5):
        xs = [[float(rng.uniform(-1, 1)), float(rng.uniform(-1, 1))] for _ in range(8)]
        ys = [float(rng.choice([-1.0, 1.0])) for _ in range(8)]
        sgd(eager_params, scalar_loss(eager_layers)(xs, ys), lr=0.05)
        loss = step(xs, ys)
        if call:
            assert_replayed(step, loss)
        sgd(our_params, loss, lr=0.05)
        assert [p.data for p in our_params] == [p.data for p in eager_params]
    tape = next(iter(step.tapes.values()))
    assert tape.buffer_bytes == 0 and "np." not in tape.source.split("yield")[0]  # plain float arithmetic


def test_value_arguments_that_require_grad_get_gradients():
    x = Value(np.array([1.0, -2.0, 3.0]))
    f = tg.compile(lambda v: (v * v).sum())
    f(x)
    x.grad = None
    assert_replayed(f, f(x)).backward()
    assert same_bits(x.grad, np.array([2.0, -4.0, 6.0]))


def test_results_compose_with_eager_ops_and_first_order_grad():
    rng = np.random.default_rng(6)
    params = mlp_params(rng)
    x, t = rng.uniform(0, 1, (6, 4)), rng.integers(0, 3, 6)
    eager = (mlp_loss(params)(x, t) * 3.0).exp()
    want = tg.grad(eager, params)
    step = tg.compile(mlp_loss(params))
    step(x, t)
    got = tg.grad((assert_replayed(step, step(x, t)) * 3.0).exp(), params)
    assert all(same_bits(a.data, b.data) for a, b in zip(got, want))


def test_create_graph_through_a_result_is_refused():
    w = Value(2.0)
    f = tg.compile(lambda x: w * x * x)
    f(3.0)
    with pytest.raises(NotImplementedError, match="create_graph=True"):
        tg.grad(f(3.0), w, create_graph=True)


def test_no_grad_inside_works_and_a_call_under_no_grad_is_a_constant():
    w = Value(np.array([1.0, 2.0]))

    def fn(x):
        with no_grad():
            scale = (x * 2.0).sum()  # a constant computed from the argument: replayed too
        return (w * x).sum() * scale

    f = tg.compile(fn)
    f(np.array([1.0, 1.0]))
    x = np.array([3.0, -1.0])
    out = assert_replayed(f, f(x))
    assert same_bits(out.data, fn(Value(x, requires_grad=False)).data)
    out.backward()
    assert same_bits(w.grad, x * (x * 2.0).sum())
    with no_grad():
        assert not f(x).requires_grad


def test_detect_anomaly_inside_fn_is_refused_and_outside_runs_eagerly():
    w = Value(np.array([1.0, 0.0]))

    def inside(x):
        with detect_anomaly():
            return (w * x).sum()

    with pytest.raises(RuntimeError, match="detect_anomaly"):
        tg.compile(inside)(np.ones(2))
    f = tg.compile(lambda x: (w * x).log().sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        f(np.ones(2))
        with detect_anomaly(), pytest.raises(FloatingPointError, match="'log'"):
            f(np.ones(2))


def test_backward_or_grad_inside_fn_is_refused():
    w = Value(1.5)

    def inner(x):
        y = w * x
        y.backward()
        return y

    with pytest.raises(RuntimeError, match="backward"):
        tg.compile(inner)(2.0)
    with pytest.raises(RuntimeError, match="backward"):
        tg.compile(lambda x: tg.grad(w * x, w)[0])(2.0)


def test_a_stale_result_with_reused_buffers_raises():
    rng = np.random.default_rng(7)
    params = mlp_params(rng)
    step = tg.compile(mlp_loss(params))
    x, t = rng.uniform(0, 1, (5, 4)), np.array([0, 1, 2, 0, 1])
    step(x, t)
    first = assert_replayed(step, step(x, t))
    step(x, t)
    with pytest.raises(RuntimeError, match="stale"):
        first.backward()


def test_a_parameter_of_a_new_shape_traces_again():
    w = Value(np.ones(3))
    f = tg.compile(lambda x: (w * x).sum())
    f(np.ones(3))
    f(np.ones(3))
    w.data = np.ones((2, 3))
    out = f(np.ones(3))
    assert same_bits(out.data, np.float64(6.0))
    out.backward()
    assert w.grad.shape == (2, 3)
    again = f(np.ones(3))  # the new trace replays: the new shape has a tape of its own
    assert_replayed(f, again)
    assert same_bits(again.data, np.float64(6.0))


def test_targets_are_checked_on_every_call():
    rng = np.random.default_rng(8)
    step = tg.compile(mlp_loss(mlp_params(rng)))
    x = rng.uniform(0, 1, (3, 4))
    step(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="target 3 at position 1 is out of range"):
        step(x, np.array([0, 3, 2]))
    with pytest.raises(ValueError, match="target -1 at position 0"):
        step(x, np.array([-1, 0, 2]))


def test_a_float_division_by_zero_gives_numpys_inf_as_eagerly():
    a, b = Value(1.0), Value(1.0)
    f = tg.compile(lambda x: a / (b * x))
    f(1.0)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = f(0.0)
        assert out.op == "/" and out.data == math.inf  # run eagerly: the documented case
        out.backward()
        eager_a, eager_b = Value(1.0), Value(1.0)
        (eager_a / (eager_b * 0.0)).backward()
    assert same_bits(a.grad, eager_a.grad) and same_bits(b.grad, eager_b.grad)


def branching(x):
    """Control flow on a value: frozen at trace time."""
    return (x * 2.0).relu().sum() if float(x.sum()) > 0 else (x * 2.0).tanh().sum()


def test_the_checking_mode_names_the_op_where_frozen_control_flow_differs(monkeypatch):
    monkeypatch.setenv(CHECK_ENV, "1")
    f = tg.compile(branching)
    f(np.array([1.0, 2.0]))
    f(np.array([3.0, 1.0]))  # the same branch: equal
    # op 0 is the sum the condition reads, op 1 the product
    with pytest.raises(ReplayMismatch, match="at op 2 the trace has 'relu' but fn ran 'tanh'"):
        f(np.array([-3.0, 1.0]))


def test_the_checking_mode_names_the_op_whose_frozen_constant_differs():
    def centered(x):
        return ((x - float(np.mean(x.data))) ** 2).sum()  # NumPy on .data: a constant of the trace

    f = tg.compile(centered, check=True)
    f(np.array([1.0, 2.0]))
    with pytest.raises(ReplayMismatch, match=r"the value of op 0 \('-', shape \(2,\)\) differs"):
        f(np.array([5.0, 2.0]))
    unchecked = tg.compile(centered)
    unchecked(np.array([1.0, 2.0]))
    assert unchecked(np.array([5.0, 2.0])).data != centered(Value(np.array([5.0, 2.0]))).data  # the limit


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_training_compiled_equals_training_eagerly(optimizer, monkeypatch):
    calls = []

    def replaying(fn):  # train's compiled epoch pass, each call after the trace asserted to run the tape
        compiled = tg.compile(fn)

        def epoch_pass():
            result = compiled()
            if calls:
                assert_replayed(compiled, result)
            calls.append(result)
            return result

        return epoch_pass

    monkeypatch.setattr(training, "compile", replaying)
    data = load_iris()
    compiled, eager = IrisNetwork.random(3), IrisNetwork.random(3)
    history = train(compiled, data.X, data.labels, 60, optimizer)
    expected = train(eager, data.X, data.labels, 60, optimizer, compiled=False)
    assert history.loss == expected.loss and history.accuracy == expected.accuracy
    assert [p.data for p in compiled.parameters()] == [p.data for p in eager.parameters()]
    assert len(calls) == 60


def test_the_train_command_says_it_runs_compiled(capsys):
    assert main(["train", "--help"]) == 0
    assert "compiled (tinygrad_iris.compile" in " ".join(capsys.readouterr().out.split())


def test_a_tuple_result_gives_its_other_values_back_without_a_graph():
    w = Value(np.array([[1.0, -2.0], [0.5, 1.0]]))

    def loss_and_logits(x):
        logits = x @ w
        return (logits * logits).sum(), logits

    f = tg.compile(loss_and_logits)
    f(np.ones((3, 2)))
    x = np.full((3, 2), 2.0)
    loss, logits = f(x)
    assert_replayed(f, (loss, logits))
    assert same_bits(logits.data, x @ w.data) and not logits.requires_grad
    loss.backward()
    assert same_bits(w.grad, x.T @ (2 * (x @ w.data)))


def test_bad_functions_and_arguments_are_refused_clearly():
    with pytest.raises(TypeError, match="expected a function"):
        tg.compile(3)
    with pytest.raises(TypeError, match="must return a Value"):
        tg.compile(lambda x: 1.0)(2.0)
    with pytest.raises(TypeError, match="argument of type dict"):
        tg.compile(lambda x: x)({"a": 1})


def broken_tape(replay, part):
    """``replay`` made to fail in its forward or its backward: a fault of the tape, not a documented case."""

    def broken(*args):
        run = replay(*args)
        if part == "backward":
            yield next(run)
        raise ValueError("a broken tape")

    return broken


@pytest.mark.parametrize("part", ["forward", "backward"])
def test_a_replay_that_fails_unexpectedly_raises_and_never_runs_eagerly(part):
    rng = np.random.default_rng(11)
    step = tg.compile(mlp_loss(mlp_params(rng)))
    x, t = rng.uniform(0, 1, (5, 4)), np.array([0, 1, 2, 0, 1])
    step(x, t)
    tape = next(iter(step.tapes.values()))
    tape.replay = broken_tape(tape.replay, part)
    with pytest.raises(ValueError, match="a broken tape") as caught:
        step(x, t).backward()
    if sys.version_info >= (3, 11):  # exceptions carry notes
        assert f"raised by the {part} replay of loss's tape" in caught.value.__notes__[0]


def test_an_unexpected_replay_error_names_the_tape_line_that_raised():
    w = Value(2.0)
    f = tg.compile(lambda x: w * x**3.0)
    f(1.5)
    tape = next(iter(f.tapes.values()))

    def power(*args):
        raise ValueError("not a float")

    tape.ns["_power"] = power
    with pytest.raises(ValueError, match="not a float") as caught:
        f(1.5)
    line = next(n for n in tape.source.splitlines() if "_power(" in n).strip()
    if sys.version_info >= (3, 11):  # exceptions carry notes
        assert f"`{line}`" in caught.value.__notes__[0]


def test_every_path_calls_fn_with_values_as_tracing_does():
    """Eagerly inside detect_anomaly() and when a replay meets a float error: fn gets Values there too."""
    w = Value(np.array([0.5, -1.0]))
    f = tg.compile(lambda x: (x.exp() * w).sum())
    f(np.array([1.0, 2.0]))
    x = np.array([0.25, -2.0])
    with detect_anomaly():
        out = f(x)
    assert out.op == "sum" and same_bits(out.data, (Value(x).exp() * w).sum().data)
    a = Value(1.0)
    g = tg.compile(lambda x: a / x.relu())  # float arithmetic: 1.0 / 0.0 raises in the tape
    g(2.0)
    with np.errstate(divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = g(0.0)
        assert out.op == "/" and out.data == math.inf


def nll_of(w):
    return lambda x, t: nll_loss(log_softmax(x @ w), t)


@pytest.mark.parametrize("traced", [[0, 1, 2], [0, 0, 0], [1, 1, 0]])  # [0, 1, 2] is nll_loss's own arange
@pytest.mark.parametrize("kind", [np.int64, np.int32, np.float64])  # float targets: integer values
def test_integer_arguments_are_bound_by_identity_never_by_value(traced, kind):
    """An integer array fn builds itself (nll_loss's np.arange(rows)) stays a constant, even when the targets
    traced hold the same values; the targets passed are this call's, forward and backward."""
    rng = np.random.default_rng(12)
    w = Value(rng.standard_normal((2, 3)))
    f = tg.compile(nll_of(w))
    x = rng.standard_normal((3, 2))
    f(x, np.array(traced, dtype=kind))
    for t in ([2, 0, 1], [0, 0, 0], [1, 2, 2]):
        t = np.array(t, dtype=kind)
        eager = nll_of(w)(Value(x, requires_grad=False), t)
        eager.backward()
        expected, w.grad = w.grad, None
        out = assert_replayed(f, f(x, t))
        out.backward()
        assert same_bits(out.data, eager.data) and same_bits(w.grad, expected), t
        w.grad = None
    with pytest.raises(ValueError, match=r"nll_loss: target -1(\.0)? at position 0 is out of range"):
        f(x, np.array([-1, 0, 1], dtype=kind))  # eagerly refused; a replay took -1 as the last class


def test_an_index_argument_moves_the_gradient_as_eagerly():
    v = Value(np.arange(5.0))
    f = tg.compile(lambda i: (v[i] * 2.0).sum())
    f(np.array([0, 1]))
    out = assert_replayed(f, f(np.array([3, 4])))
    out.backward()
    assert same_bits(v.grad, np.array([0.0, 0.0, 0.0, 2.0, 2.0]))
    with pytest.raises(IndexError, match="indexing: index"):
        f(np.array([0, 5]))


def test_integer_arrays_the_trace_cannot_bind_are_refused():
    w = Value(np.ones((2, 3)))
    with pytest.raises(ValueError, match="view of an argument"):
        tg.compile(lambda x, t: cross_entropy(x @ w, t[::-1]))(np.ones((3, 2)), np.array([0, 1, 2]))
    t = np.array([0, 1, 2])
    with pytest.raises(ValueError, match="passed as two arguments"):
        tg.compile(lambda x, t, u: cross_entropy(x @ w, t) + cross_entropy(x @ w, u))(np.ones((3, 2)), t, t)
