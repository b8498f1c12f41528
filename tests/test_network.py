"""The iris network against the articles' numbers, derived independently in tests/article_reference.py."""

import math

import numpy as np
import pytest
from article_reference import ROWS, hand_gradient, hand_probabilities, hand_total

from tinygrad_iris import SOFTMAX_DENOMINATOR, Value, cross_entropy, gradcheck
from tinygrad_iris.article import B3_CURVE, article_table, b3_curve, b3_gradient, optimize_b3
from tinygrad_iris.iris import load_iris
from tinygrad_iris.network import ARTICLE_ROWS, SPECIES, IrisNetwork
from tinygrad_iris.training import accuracy, evaluate, train

NAMES = [
    *("w_petal_upper", "w_sepal_upper", "b1", "w_petal_bottom", "w_sepal_bottom", "b2"),
    *("w_upper_setosa", "w_bottom_setosa", "b3", "w_upper_versicolor", "w_bottom_versicolor", "b4"),
    *("w_upper_virginica", "w_bottom_virginica", "b5"),
]


# ----- the network's parameters ------------------------------------------------------------------
def test_fifteen_named_parameters_with_the_articles_values():
    net = IrisNetwork()
    assert [p.name for p in net.parameters()] == NAMES
    assert [name for name, _ in net.named_parameters()] == NAMES
    values = [-2.5, 0.6, 1.6, -1.5, 0.4, 0.7, -0.1, 1.5, -2.0, 2.4, -5.2, 0.0, -2.2, 3.7, 1.0]
    assert [p.data for p in net.parameters()] == values
    assert net.b3.name == "b3" and net.b3 is net.parameters()[8]
    assert all(type(p.data) is float and p.requires_grad for p in net.parameters())
    assert SPECIES == ("Setosa", "Versicolor", "Virginica")
    assert list(ARTICLE_ROWS) == ROWS


def test_any_parameter_can_be_set_by_name():
    net = IrisNetwork(b3=0.5, b4=-1.0)
    assert (net.b3.data, net.b4.data, net.b1.data) == (0.5, -1.0, 1.6)
    with pytest.raises(TypeError, match="unknown parameter b9"):
        IrisNetwork(b9=1.0)
    with pytest.raises(ValueError, match="b3 must be finite"):
        IrisNetwork(b3=float("nan"))
    with pytest.raises(TypeError, match="b1 must be a number"):
        IrisNetwork(b1="1")


def test_state_dict_round_trip():
    source = IrisNetwork.random(3)
    target = IrisNetwork()
    target.load_state_dict(source.state_dict())
    assert [p.data for p in target.parameters()] == [p.data for p in source.parameters()]
    assert all(type(p.data) is float for p in target.parameters())


# ----- the article's table, gradient and descent ----------------------------------------------
def test_the_articles_table_at_b3_minus_2():
    table = article_table()
    printed = [(0.15, 1.89), (0.71, 0.35), (0.65, 0.43)]  # p, cross entropy as in the article
    for row, (petal, sepal, species), (p, ce) in zip(table.rows, ROWS, printed):
        assert (row.petal, row.sepal, row.species) == (petal, sepal, SPECIES[species])
        assert (round(row.p, 2), round(row.cross_entropy, 2)) == (p, ce)
        assert row.p == pytest.approx(hand_probabilities(petal, sepal, -2.0)[species], rel=1e-12)
        assert row.cross_entropy == pytest.approx(-math.log(row.p), rel=1e-12)
    assert round(table.total_cross_entropy, 2) == 2.67
    assert round(table.total_cross_entropy, 5) == 2.66594  # FACTS, unrounded
    assert table.total_cross_entropy == pytest.approx(hand_total(-2.0), rel=1e-12)


def test_total_cross_entropy_graph_is_the_per_row_sum():
    net = IrisNetwork()
    total = net.total_cross_entropy()
    assert total.name == "total cross entropy"
    assert total.item() == pytest.approx(hand_total(-2.0), rel=1e-12)
    single = net.row_loss(0.04, 0.42, 0)
    assert single.item() == pytest.approx(-math.log(hand_probabilities(0.04, 0.42, -2.0)[0]), rel=1e-12)


def test_a_rows_forward_pass_hands_back_its_named_nodes():
    net = IrisNetwork()
    row = net.row(0.50, 0.37, 1)
    assert (row.petal, row.sepal, row.species) == (0.50, 0.37, "Versicolor")
    assert [node.op for node in row.hidden] == ["relu", "relu"]
    upper, bottom = 0.50 * -2.5 + 0.37 * 0.6 + 1.6, 0.50 * -1.5 + 0.37 * 0.4 + 0.7  # both positive
    assert [node.item() for node in row.hidden] == pytest.approx([upper, bottom], rel=1e-12)
    assert [node.name for node in row.raw] == ["raw Setosa", "raw Versicolor", "raw Virginica"]
    probabilities = hand_probabilities(0.50, 0.37, -2.0)
    assert row.probabilities.data == pytest.approx(probabilities, rel=1e-12)
    assert row.probability.name == "p(Versicolor)"
    assert row.probability.item() == pytest.approx(probabilities[1], rel=1e-12)
    assert row.loss.name == "cross entropy"
    assert row.loss.item() == pytest.approx(-math.log(probabilities[1]), rel=1e-12)
    inside = _ancestors(row.loss)  # each node the record names is one the loss was computed from
    for node in (*row.hidden, *row.raw, row.probabilities, row.probability):
        assert id(node) in inside


def test_forward_rows_sums_the_rows_losses():
    total, rows = IrisNetwork().forward_rows()
    assert [row.species for row in rows] == ["Setosa", "Virginica", "Versicolor"]
    assert total.item() == pytest.approx(sum(row.loss.item() for row in rows), rel=1e-15)
    assert all(id(row.loss) in _ancestors(total) for row in rows)
    single, (only,) = IrisNetwork().forward_rows([(0.2, 0.3, 1)])
    assert single is only.loss and single.name == "total cross entropy"
    with pytest.raises(ValueError, match="got no rows"):
        IrisNetwork().forward_rows([])


def _ancestors(node):
    seen, stack = set(), [node]
    while stack:
        for parent in stack.pop()._parents:
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return seen


def test_b3_reaches_every_rows_softmax_denominator():
    net = IrisNetwork()
    total = net.total_cross_entropy()
    nodes, stack = {}, [total]
    while stack:
        for parent in stack.pop()._parents:
            if id(parent) not in nodes:
                nodes[id(parent)] = parent
                stack.append(parent)
    denominators = [n for n in nodes.values() if n.name == SOFTMAX_DENOMINATOR]
    assert len(denominators) == 3
    assert all(id(net.b3) in _ancestors(d) for d in denominators)
    named = {n.name for n in nodes.values()}
    raw = {"raw Setosa", "raw Versicolor", "raw Virginica"}
    assert {"upper", "bottom", "petal", "sepal", *raw, *NAMES} <= named


def test_gradient_of_total_ce_with_respect_to_b3():
    total, gradient = b3_gradient(-2.0)
    assert round(gradient, 4) == -0.7732  # FACTS
    assert gradient == pytest.approx(hand_gradient(-2.0), rel=1e-12)
    assert total == pytest.approx(hand_total(-2.0), rel=1e-12)
    # and by central differences on the hand formula
    h = 1e-6
    assert gradient == pytest.approx((hand_total(-2.0 + h) - hand_total(-2.0 - h)) / (2 * h), rel=1e-6)


def test_every_parameters_gradient_matches_finite_differences():
    def total_of(*values):
        net = IrisNetwork()
        for name, v in zip(NAMES, values):
            setattr(net, name, v)
        return net.total_cross_entropy()

    start = [p.data for p in IrisNetwork(b3=-0.3).parameters()]
    assert gradcheck(total_of, *start)


def test_gradient_descent_on_b3():
    descent = optimize_b3(start=-2.0, lr=1.0, steps=40)
    # by hand: b3 <- b3 - 1 * d total / d b3
    b3 = -2.0
    for step in descent.steps:
        assert step.b3 == pytest.approx(b3, abs=1e-12)
        assert step.gradient == pytest.approx(hand_gradient(b3), abs=1e-12)
        assert step.total_cross_entropy == pytest.approx(hand_total(b3), abs=1e-12)
        b3 -= hand_gradient(b3)
    assert [round(s.b3, 4) for s in descent.steps[:3]] == [-2.0, -1.2268, -0.6623]  # FACTS
    assert [s.step for s in descent.steps] == list(range(40))
    assert round(descent.b3, 5) == -0.03165  # FACTS
    assert round(hand_total(descent.b3), 4) == 1.7747  # FACTS
    assert abs(hand_gradient(descent.b3)) < 1e-10


def test_descent_with_zero_steps_and_bad_arguments():
    assert optimize_b3(steps=0).steps == () and optimize_b3(steps=0).b3 == -2.0
    with pytest.raises(ValueError, match="steps"):
        optimize_b3(steps=-1)
    with pytest.raises(ValueError, match="lr must be finite"):
        optimize_b3(lr=float("inf"))


def test_the_pink_curve():
    assert B3_CURVE.shape == (200,) and B3_CURVE[0] == -6.0 and B3_CURVE[-1] == 4.0
    curve = b3_curve()
    expected = [hand_total(b3) for b3 in np.linspace(-6.0, 4.0, 200)]
    np.testing.assert_allclose(curve, expected, rtol=1e-12)
    lowest = int(np.argmin(curve))
    assert abs(B3_CURVE[lowest] - -0.03165) < 10 / 199  # within one grid step of the minimum
    # one minimum: falling before it, rising after it
    assert np.all(np.diff(curve[: lowest + 1]) < 0) and np.all(np.diff(curve[lowest:]) > 0)


def test_exact_scaling_gives_2_6735():
    data = load_iris()
    flowers = [(0.2, 3.0, 0), (2.5, 3.3, 2), (1.3, 2.9, 1)]
    exact = [((pw - 0.1) / 2.4, (sw - 2.0) / 2.4, t) for pw, sw, t in flowers]
    assert round(hand_total(-2.0, exact), 4) == 2.6735  # FACTS
    from_data = []
    for pw, sw, t in flowers:
        i = np.flatnonzero((data.measurements[:, 3] == pw) & (data.measurements[:, 1] == sw))[0]
        from_data.append((data.X[i, 0], data.X[i, 1], t))
    assert IrisNetwork().total_cross_entropy(from_data).item() == pytest.approx(hand_total(-2.0, exact))


def test_the_articles_network_with_b3_0_classifies_143_of_150():
    data = load_iris()
    net = IrisNetwork(b3=0.0)
    by_hand = [int(np.argmax(hand_probabilities(p, s, 0.0))) for p, s in data.X]
    assert sum(np.array(by_hand) == data.labels) == 143  # FACTS
    np.testing.assert_array_equal(net.predict(data.X), by_hand)
    assert accuracy(net, data.X, data.labels) == pytest.approx(143 / 150)


# ----- batched and per-row forms agree --------------------------------------------------------------
@pytest.mark.parametrize("seed", [None, 0, 1, 7])
def test_batched_and_per_row_forms_agree_in_values_and_gradients(seed):
    data = load_iris()
    rows = np.random.default_rng(11).choice(150, size=12, replace=False)
    X, labels = data.X[rows], data.labels[rows]
    make = IrisNetwork if seed is None else lambda: IrisNetwork.random(seed)

    per_row = make()
    raw = np.array([[v.item() for v in per_row.raw_outputs(p, s)] for p, s in X])
    per_row.total_cross_entropy([(p, s, int(t)) for (p, s), t in zip(X, labels)]).backward()

    batched = make()
    logits = batched(X)
    assert logits.shape == (12, 3)
    np.testing.assert_allclose(logits.data, raw, rtol=1e-13, atol=1e-13)
    cross_entropy(logits, labels, reduction="sum").backward()

    grads = [p.grad for p in batched.parameters()]
    assert any(g != 0 for g in grads)
    np.testing.assert_allclose(grads, [p.grad for p in per_row.parameters()], rtol=1e-10, atol=1e-12)


def test_batched_forward_validates_its_input():
    net = IrisNetwork()
    with pytest.raises(ValueError, match=r"shape \(n, 2\).*got \(3,\)"):
        net(np.zeros(3))
    with pytest.raises(ValueError, match="petal must be finite"):
        net.raw_outputs(float("nan"), 0.2)
    with pytest.raises(ValueError, match="species must be 0"):
        net.row_loss(0.1, 0.2, 3)
    with pytest.raises(TypeError, match="species must be an integer"):
        net.row_loss(0.1, 0.2, 1.0)
    assert isinstance(net(Value(np.zeros((2, 2)))), Value)


# ----- random start and training ----------------------------------------------------------------
def test_random_starts_leave_no_hidden_node_dead_on_the_flowers():
    X = load_iris().X
    dead = {seed: IrisNetwork.random(seed).dead_units(X) for seed in range(500)}
    assert all(units == [] for units in dead.values())
    same = [p.data for p in IrisNetwork.random(4).parameters()]
    assert same == [p.data for p in IrisNetwork.random(4).parameters()]  # seeded
    assert same != [p.data for p in IrisNetwork.random(5).parameters()]


def test_dead_units_are_reported():
    net = IrisNetwork(b1=-100.0)
    assert net.dead_units(load_iris().X) == ["upper"]
    assert IrisNetwork(b1=-100.0, b2=-100.0).dead_units(load_iris().X) == ["upper", "bottom"]


def test_training_the_articles_network_reaches_95_percent():
    data = load_iris()
    net = IrisNetwork()
    seen = []
    history = train(net, data.X, data.labels, on_epoch=lambda *args: seen.append(args))
    loss, acc = evaluate(net, data.X, data.labels)
    assert acc >= 0.95
    assert loss < 0.1  # FACTS: mean cross entropy about 0.09
    assert len(history.loss) == len(seen) == 1000 and history.loss[-1] < history.loss[0]
    assert history.accuracy[0] == accuracy(IrisNetwork(), data.X, data.labels)  # measured before the update


@pytest.mark.parametrize(("optimizer", "seed"), [("adam", 0), ("sgd", 1), ("adam", 20)])
def test_training_from_random_starts_reaches_95_percent(optimizer, seed):
    data = load_iris()
    net = IrisNetwork.random(seed)
    train(net, data.X, data.labels, optimizer=optimizer)
    assert evaluate(net, data.X, data.labels)[1] >= 0.95
    assert net.dead_units(data.X) == []


def test_train_rejects_bad_arguments():
    data = load_iris()
    with pytest.raises(ValueError, match="optimizer must be one of adam, sgd"):
        train(IrisNetwork(), data.X, data.labels, optimizer="rmsprop")
    with pytest.raises(ValueError, match="epochs"):
        train(IrisNetwork(), data.X, data.labels, epochs=-5)
