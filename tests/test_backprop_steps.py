"""The step record of backward(): the engine's order, the engine's numbers bit for bit, and its words."""

from __future__ import annotations

import math

import numpy as np
import pytest
from article_reference import ROWS, hand_probabilities

from tinygrad_iris import Value, cross_entropy, record_backward, toposort
from tinygrad_iris.network import IrisNetwork
from tinygrad_iris.steps import MAX_LOCAL_SIZE, BackwardRecord


def user_graph(a: float = -3.0, b: float = 2.0) -> tuple[Value, Value, Value]:
    va, vb = Value(a, name="a"), Value(b, name="b")
    return (va * vb + vb**3).relu(), va, vb


def article_total() -> tuple[IrisNetwork, Value, tuple]:
    net = IrisNetwork()
    total, rows = net.forward_rows()
    return net, total, rows


def batched_loss(dtype: type = np.float64) -> Value:
    W = Value(np.array([[0.5, -1.0, 0.2], [1.5, 0.3, -0.7]], dtype=dtype), name="W")
    bias = Value(np.array([0.1, 0.0, -0.2], dtype=dtype), name="bias")
    x = np.array([[0.04, 0.42], [1.00, 0.54]], dtype=dtype)
    return cross_entropy((x @ W + bias).tanh() * 2.0, targets=[0, 2])


def test_the_steps_are_backwards_nodes_in_backwards_order():
    _net, total, _ = article_total()
    seen: list[Value] = []
    total.backward(on_step=lambda node, upstream, added: seen.append(node))
    total.zero_grad()
    record = record_backward(total)
    assert [step.node for step in record.steps] == seen
    assert set(seen) == {node for node in toposort(total) if node.inputs} and len(set(seen)) == len(seen)
    position = {node: k for k, node in enumerate(seen)}
    assert all(position[node] < position[x] for node in seen for x in node.inputs if x.inputs)
    assert len(record) == 92 and [step.number for step in record] == list(range(1, 93))


@pytest.mark.parametrize("build", [lambda: article_total()[1], lambda: user_graph()[0], batched_loss,
                                   lambda: batched_loss(np.float32)])
def test_the_last_steps_gradients_are_backwards_bit_for_bit(build):
    plain, recorded = build(), build()
    plain.backward()
    record = record_backward(recorded)
    grads = record.grads
    for mine, theirs in zip(toposort(recorded), toposort(plain), strict=True):
        if not mine.requires_grad:
            assert mine not in grads
            continue
        expected = np.asarray(theirs.grad)
        got = np.asarray(grads[mine])
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert got.tobytes() == expected.tobytes(), mine  # the same bits, not merely close
        assert np.asarray(mine.grad).tobytes() == expected.tobytes()  # and backward() ran as usual


def test_b3_gathers_its_three_paths():
    net, total, rows = article_total()
    record = record_backward(total)
    arrivals = [a for step in record for a in step.arrivals if a.input is net.b3]
    terms = [hand_probabilities(petal, sepal, -2.0)[0] - (species == 0) for petal, sepal, species in ROWS]
    assert [round(a.added, 4) for a in arrivals] == [-0.8491, 0.0351, 0.0408]  # rows 1, 2, 3
    assert [a.added for a in arrivals] == pytest.approx(terms, abs=1e-12)
    assert [a.grad for a in arrivals] == pytest.approx([terms[0], terms[0] + terms[1], sum(terms)], abs=1e-12)
    assert [a.parts for a in arrivals] == [1, 2, 3]
    assert round(arrivals[-1].grad, 4) == -0.7732 and arrivals[-1].grad == net.b3.grad
    # each from its row's raw Setosa node, by addition: local derivative 1
    sources = [step for step in record for a in step.arrivals if a.input is net.b3]
    assert [step.node for step in sources] == [row.raw[0] for row in rows]
    assert [a.local for step in sources for a in step.arrivals if a.input is net.b3] == [1.0, 1.0, 1.0]


def test_row_ones_path_from_cross_entropy_to_raw_setosa():
    _net, total, rows = article_total()
    record = record_backward(total)
    path = [rows[0].loss]
    while path[-1] is not rows[0].raw[0]:
        path.append(path[-1].inputs[0])  # log, p(Setosa), softmax, exp, shift, stack, raw Setosa
    table = record.path(path)
    p = hand_probabilities(0.04, 0.42, -2.0)
    assert [row.node.op for row in table] == ["neg", "log", "getitem", "/", "exp", "-", "stack", "+"]
    assert table[0].formula is None and table[0].grad == 1
    assert table[1].formula == "d/da -a = -1" and table[1].local == -1 and table[1].grad == -1
    assert table[2].formula == "d/da a.log() = 1/a" and table[2].local == pytest.approx(1 / p[0])
    assert table[2].grad == pytest.approx(-1 / p[0]) and round(table[2].grad, 3) == -6.628
    assert np.asarray(table[3].grad) == pytest.approx([-1 / p[0], 0, 0])
    assert table[-1].node.name == "raw Setosa" and table[-1].grad == pytest.approx(p[0] - 1)
    assert round(table[-1].grad, 4) == -0.8491


def test_the_words_of_a_step():
    c, _a, _b = user_graph()
    record = record_backward(c)
    words = [step.describe() for step in record]
    assert words[0] == "relu: upstream 1 × local 1 (d/da a.relu() = 1 if a > 0 else 0) → adds 1 to +"
    assert words[2] == (
        "×: upstream 1 × local 2 (d/da (a * b) = b) → adds 2 to a; "
        "and × local -3 (d/db (a * b) = a) → adds -3 to b"
    )
    assert words[3] == (
        "**3: upstream 1 × local 12 (d/da (a ** 3) = p * a**(p-1)) → adds 12 to b "
        "(its grad, 2 parts so far, is now 9)"
    )


def test_the_articles_relu_of_row_ones_bottom_node_in_words():
    record = record_backward(article_total()[1])
    assert record.steps[27].describe() == (  # the example, step 28 of 92
        "relu: upstream -1.661 × local 1 (d/da a.relu() = 1 if a > 0 else 0) → adds -1.661 to bottom"
    )


def test_a_relu_below_its_kink_passes_zero():
    c, a, b = user_graph(-3.0, 1.0)  # a*b + b**3 = -2: relu's local derivative is 0
    record = record_backward(c)
    assert record.steps[0].arrivals[0].local == 0 and record.steps[0].arrivals[0].added == 0
    assert record.grads[a] == 0 and record.grads[b] == 0


def test_each_local_derivative_is_its_ops_jacobian_by_central_differences():
    for root in (article_total()[1], user_graph()[0], batched_loss()):
        record = record_backward(root)
        for step in record:
            node = step.node
            data = [np.array(x.data, dtype=np.float64) for x in node.inputs]
            for arrival in step.arrivals:
                numeric = np.zeros(node.shape + arrival.input.shape)
                for index in np.ndindex(*arrival.input.shape):
                    values = []
                    for sign in (1, -1):
                        moved = [d.copy() for d in data]
                        moved[arrival.position][index] += sign * 1e-6
                        values.append(node.primitive.forward(*(m[()] if m.ndim == 0 else m for m in moved),
                                                             **node.attrs))
                    numeric[(..., *index)] = (np.asarray(values[0]) - values[1]) / 2e-6
                assert np.asarray(arrival.local) == pytest.approx(numeric, abs=1e-6), arrival.formula
                # and what was added is the upstream gradient times it
                added = np.tensordot(step.upstream, arrival.local, axes=np.ndim(step.upstream))
                assert np.asarray(arrival.added) == pytest.approx(added, abs=1e-12)


def test_a_jacobian_too_large_to_keep_is_none():
    side = math.isqrt(MAX_LOCAL_SIZE) + 1
    x = Value(np.ones((side, 1)))
    record = record_backward((x * 2.0).sum())
    assert record.steps[0].arrivals[0].local is not None  # sum: side x 1 entries
    assert record.steps[1].arrivals[0].local is None  # the product: side**2 entries
    assert "local (d/da (a * b) = b) → adds" in record.steps[1].describe()


def test_the_running_gradients_step_by_step():
    c, a, b = user_graph()
    record = record_backward(c)
    assert record.grads_after(0) == {c: 1.0}
    assert record.grads_after(3)[b] == -3.0  # a*b's part only: d(ab)/db = a = -3
    assert record.grads_after(4)[b] == 9.0
    assert set(record.grads_after(4)) == set(toposort(c))
    with pytest.raises(ValueError, match=r"step number must be in \[0, 4\], got 5"):
        record.grads_after(5)
    for wrong in (1.5, "2", True):
        with pytest.raises(TypeError, match=f"step number must be an int, got {type(wrong).__name__}"):
            record.grads_after(wrong)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="a is not a node that backward\\(\\) processed"):
        record.step_of(a)


def test_the_record_keeps_its_numbers_when_a_grad_is_changed_in_place():
    W = Value(np.array([1.0, 2.0]), name="W")
    record = record_backward((W * W).sum())
    W.grad[:] = 0  # a leaf's .grad is the user's to change
    assert np.array_equal(record.grads[W], [2.0, 4.0])


def test_earlier_gradients_are_added_by_backward_and_left_out_of_the_record():
    c, a, _b = user_graph()
    c.backward()
    record = record_backward(c)
    assert a.grad == 4.0 and record.grads[a] == 2.0


def test_a_leaf_root_and_a_non_scalar_root():
    leaf = Value(3.0)
    record = record_backward(leaf)
    assert len(record) == 0 and record.grads == {leaf: 1.0} and leaf.grad == 1.0
    x = Value(np.array([1.0, -2.0]), name="x")
    y = x * 3.0
    record = record_backward(y, np.array([1.0, 10.0]))
    assert np.array_equal(record.seed, [1.0, 10.0]) and np.array_equal(record.grads[x], [3.0, 30.0])
    with pytest.raises(ValueError, match="pass gradient="):
        record_backward(y)


def test_wrong_kinds_are_refused():
    with pytest.raises(TypeError, match="record_backward: root must be a Value, got float"):
        record_backward(1.0)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="does not require a gradient"):
        record_backward(Value(1.0, requires_grad=False))


def test_repr():
    assert repr(record_backward(user_graph()[0])) == "<BackwardRecord: 4 steps over 6 nodes>"
    assert isinstance(record_backward(user_graph()[0]), BackwardRecord)
