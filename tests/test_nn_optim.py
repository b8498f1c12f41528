"""nn.Module / nn.Linear and optim.SGD / optim.Adam against hand-written update rules."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from tinygrad_iris import Value, cross_entropy, gradcheck
from tinygrad_iris.iris import load_iris
from tinygrad_iris.nn import Linear, Module
from tinygrad_iris.optim import SGD, Adam


class TwoLayer(Module):
    def __init__(self, rng):
        self.first = Linear(2, 4, rng=rng)
        self.scale = Value(1.0, name="scale")
        self.constant = Value(3.0, requires_grad=False)
        self.second = Linear(4, 3, rng=rng)
        self.shared = [self.first, Value(0.5, name="extra")]

    def forward(self, x):
        return self.second(self.first(x).relu()) * self.scale


def test_parameters_walk_attributes_in_assignment_order_once_each():
    model = TwoLayer(np.random.default_rng(0))
    names = [name for name, _ in model.named_parameters()]
    assert names == ["first.weight", "first.bias", "scale", "second.weight", "second.bias", "shared.1"]
    assert [id(p) for p in model.parameters()] == [id(p) for _, p in model.named_parameters()]


def test_zero_grad_clears_every_parameter():
    model = TwoLayer(np.random.default_rng(0))
    model(np.ones((5, 2))).sum().backward()
    assert np.any(model.first.weight.grad != 0)
    model.zero_grad()
    assert all(np.all(p.grad == 0) for p in model.parameters())


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Module must define forward"):
        Module()(1.0)


def test_linear_is_x_at_w_plus_b():
    layer = Linear(3, 2, rng=np.random.default_rng(1))
    assert layer.weight.shape == (3, 2) and layer.bias is not None and layer.bias.shape == (2,)
    assert np.all(np.abs(layer.weight.data) <= 1 / math.sqrt(3))
    x = np.arange(12.0).reshape(4, 3)
    np.testing.assert_allclose(layer(x).data, x @ layer.weight.data + layer.bias.data)
    no_bias = Linear(3, 2, bias=False, rng=np.random.default_rng(1))
    assert no_bias.bias is None and len(no_bias.parameters()) == 1
    np.testing.assert_allclose(no_bias(x).data, x @ no_bias.weight.data)


def test_linear_gradients_match_finite_differences():
    x = np.random.default_rng(2).normal(size=(5, 3))
    assert gradcheck(lambda w, b: x @ w + b, np.ones((3, 2)) * 0.3, np.array([0.1, -0.2]))


@pytest.mark.parametrize(
    ("args", "error"),
    [((0, 2), ValueError), ((2, -1), ValueError), ((2.5, 2), TypeError), ((True, 2), TypeError)],
)
def test_linear_rejects_bad_sizes(args, error):
    with pytest.raises(error, match="features"):
        Linear(*args)


def test_state_dict_round_trip_and_validation():
    model = TwoLayer(np.random.default_rng(0))
    state = model.state_dict()
    assert list(state) == [name for name, _ in model.named_parameters()]
    before = {k: v.copy() for k, v in state.items()}
    other = TwoLayer(np.random.default_rng(5))
    other.load_state_dict(state)
    for name, p in other.named_parameters():
        np.testing.assert_array_equal(p.data, before[name])
    assert type(other.scale.data) is float

    bad_cases = [
        ({**state, "scale": np.array([1.0])}, "scale has shape"),
        ({**state, "first.weight": np.full((2, 4), np.nan)}, "NaN"),
        ({**state, "first.bias": np.zeros(4, dtype=np.int64)}, "dtype int64"),
        ({k: v for k, v in state.items() if k != "scale"}, "missing scale"),
        ({**state, "bogus": np.zeros(1)}, "unexpected bogus"),
    ]
    target = TwoLayer(np.random.default_rng(9))
    snapshot = {k: v.copy() for k, v in target.state_dict().items()}
    for bad, message in bad_cases:
        with pytest.raises(ValueError, match=message):
            target.load_state_dict(bad)
        for name, p in target.named_parameters():
            np.testing.assert_array_equal(p.data, snapshot[name])


def test_the_package_spells_nn_and_optim_like_pytorch():
    """`import tinygrad_iris as tg` alone gives tg.nn and tg.optim (in a fresh process: nothing imported)."""
    code = """if True:
        import json, numpy as np, tinygrad_iris as tg
        layer = tg.nn.Linear(2, 3, rng=np.random.default_rng(0))
        before = [layer.weight.data.tolist(), layer.bias.data.tolist()]
        optimizer = tg.optim.SGD(layer.parameters(), lr=0.5)
        optimizer.zero_grad()
        tg.cross_entropy(layer(np.array([[1.0, 2.0], [0.5, -1.0]])), targets=[2, 0]).backward()
        optimizer.step()
        after = [layer.weight.data.tolist(), layer.bias.data.tolist()]
        print(json.dumps([before, after, isinstance(layer, tg.nn.Module), callable(tg.optim.Adam)]))
    """
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (w, b), (new_w, new_b), is_module, has_adam = json.loads(done.stdout)
    assert is_module and has_adam
    # one SGD step by hand: d(mean CE)/d(raw) = (softmax(raw) - one_hot) / rows
    x, w, b = np.array([[1.0, 2.0], [0.5, -1.0]]), np.array(w), np.array(b)
    raw = x @ w + b
    p = np.exp(raw - raw.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    d_raw = (p - np.eye(3)[[2, 0]]) / 2
    np.testing.assert_allclose(new_w, w - 0.5 * x.T @ d_raw, rtol=1e-12)
    np.testing.assert_allclose(new_b, b - 0.5 * d_raw.sum(axis=0), rtol=1e-12)


# ----- optimizers --------------------------------------------------------------------------------
def _quadratic(params):
    """loss = sum((w - 3)^2) + (s + 1)^2: gradients 2 (w - 3) and 2 (s + 1)."""
    w, s = params
    return ((w - 3.0) ** 2).sum() + (s + 1.0) ** 2


def _run(optimizer_cls, steps, **kwargs):
    w, s = Value(np.array([0.5, -2.0]), name="w"), Value(2.0, name="s")
    optimizer = optimizer_cls([w, s], **kwargs)
    for _ in range(steps):
        optimizer.zero_grad()
        _quadratic((w, s)).backward()
        optimizer.step()
    return w.data, s.data


def test_sgd_without_momentum_is_plain_gradient_descent():
    w, s = np.array([0.5, -2.0]), 2.0
    for _ in range(4):
        w, s = w - 0.1 * 2 * (w - 3.0), s - 0.1 * 2 * (s + 1.0)
    got_w, got_s = _run(SGD, 4, lr=0.1)
    np.testing.assert_allclose(got_w, w, rtol=1e-15)
    assert type(got_s) is float and got_s == pytest.approx(s, rel=1e-15)


def test_sgd_momentum_follows_pytorchs_rule():
    # PyTorch: v_1 = g_1, v_t = momentum v_{t-1} + g_t, p -= lr v_t
    w, s, vw, vs = np.array([0.5, -2.0]), 2.0, None, None
    for _ in range(5):
        gw, gs = 2 * (w - 3.0), 2 * (s + 1.0)
        vw = gw if vw is None else 0.9 * vw + gw
        vs = gs if vs is None else 0.9 * vs + gs
        w, s = w - 0.05 * vw, s - 0.05 * vs
    got_w, got_s = _run(SGD, 5, lr=0.05, momentum=0.9)
    np.testing.assert_allclose(got_w, w, rtol=1e-14)
    assert got_s == pytest.approx(s, rel=1e-14)


def test_adam_follows_kingma_and_ba():
    b1, b2, eps, lr = 0.8, 0.99, 1e-6, 0.1
    w, s = np.array([0.5, -2.0]), 2.0
    mw = vw = np.zeros(2)
    ms = vs = 0.0
    for t in range(1, 7):
        gw, gs = 2 * (w - 3.0), 2 * (s + 1.0)
        mw, vw = b1 * mw + (1 - b1) * gw, b2 * vw + (1 - b2) * gw**2
        ms, vs = b1 * ms + (1 - b1) * gs, b2 * vs + (1 - b2) * gs**2
        w = w - lr * (mw / (1 - b1**t)) / (np.sqrt(vw / (1 - b2**t)) + eps)
        s = s - lr * (ms / (1 - b1**t)) / (math.sqrt(vs / (1 - b2**t)) + eps)
    got_w, got_s = _run(Adam, 6, lr=lr, betas=(b1, b2), eps=eps)
    np.testing.assert_allclose(got_w, w, rtol=1e-14)
    assert type(got_s) is float and got_s == pytest.approx(s, rel=1e-14)


def test_adams_first_step_moves_each_parameter_by_lr():
    got_w, got_s = _run(Adam, 1, lr=0.01)
    np.testing.assert_allclose(got_w, [0.51, -1.99], rtol=1e-6)
    assert got_s == pytest.approx(1.99, rel=1e-6)


def test_arrays_are_updated_in_place():
    w = Value(np.zeros(3))
    array = w.data
    (w * 2.0).sum().backward()
    SGD([w], lr=1.0).step()
    assert w.data is array
    np.testing.assert_array_equal(array, [-2.0, -2.0, -2.0])


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda p: SGD(p, lr=float("nan")), ValueError, "lr must be a finite number"),
        (lambda p: SGD(p, lr=-0.1), ValueError, "lr must be a finite number in \\[0, inf\\], got -0.1"),
        (lambda p: SGD(p, lr=float("inf")), ValueError, "lr"),
        (lambda p: SGD(p, lr="0.1"), TypeError, "lr must be a number, got str"),
        (lambda p: SGD(p, lr=0.1, momentum=-1), ValueError, "momentum"),
        (lambda p: Adam(p, betas=(0.9, 1.0)), ValueError, "betas\\[1\\]"),
        (lambda p: Adam(p, betas=(-0.1, 0.9)), ValueError, "betas\\[0\\]"),
        (lambda p: Adam(p, betas=0.9), TypeError, "betas"),
        (lambda p: Adam(p, eps=-1e-8), ValueError, "eps"),
        (lambda p: SGD([], lr=0.1), ValueError, "empty"),
        (lambda p: SGD([*p, 3.0], lr=0.1), TypeError, "parameter 1 is a float"),
        (lambda p: SGD([*p, *p], lr=0.1), ValueError, "more than once"),
        (lambda p: SGD([Value(1.0, requires_grad=False)], lr=0.1), ValueError, "does not require grad"),
    ],
)
def test_optimizers_reject_bad_settings(make, error, words):
    with pytest.raises(error, match=words):
        make([Value(1.0)])


def test_softmax_regression_with_linear_and_adam_learns_iris():
    data = load_iris()
    model = Linear(2, 3, rng=np.random.default_rng(0))
    optimizer = Adam(model.parameters(), lr=0.1)
    first = None
    for _ in range(300):
        loss = cross_entropy(model(data.X), data.labels)
        first = loss.item() if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    predictions = np.argmax(model(data.X).data, axis=1)
    assert loss.item() < first / 2
    assert np.mean(predictions == data.labels) > 0.9
