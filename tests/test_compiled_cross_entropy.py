"""The compiled fused cross-entropy equals the eager one bit for bit, over the shapes its shortcuts depend on.

The replay takes the row max and sum as a chain over the columns when a probe says NumPy's
reductions of so short rows add in that order (2 to 7 classes), and the eager engine takes the max
as a chain when there are many rows per column: both shortcuts depend on the rows and the classes.
The random-program fuzzer rarely builds a cross-entropy whose logits are computed inside the
function (the case the chain is emitted for), so these shapes are checked here: classes on both
sides of 7, batches of 1 row up to many more rows than 16 per column, batches changing between
calls, float64 and float32, logits from a transpose (not C-ordered: no fused path) and large ones.
"""

import numpy as np
import pytest

import tinygrad_iris as tg
from tinygrad_iris import Value, cross_entropy
from tinygrad_iris.testing import assert_replayed, same_bits


def loss_of(params, logits, reduction):
    w, b = params

    def loss(x, t):
        if logits == "transposed":
            z = (w.T @ x.T).T + b
        elif logits == "large":
            z = (x @ w + b) * 40.0
        else:
            z = x @ w + b
        out = cross_entropy(z, t, reduction=reduction)
        return out.sum() if reduction == "none" else out

    return loss


@pytest.mark.parametrize("logits", ["plain", "transposed", "large"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("classes", [2, 3, 7, 8])
def test_compiled_cross_entropy_steps_equal_eager_as_batches_change(classes, dtype, reduction, logits):
    rng = np.random.default_rng(classes)
    w0 = (3 * rng.standard_normal((4, classes))).astype(dtype)
    b0 = rng.standard_normal(classes).astype(dtype)
    eager, ours = ([Value(w0.copy()), Value(b0.copy())] for _ in range(2))
    step = tg.compile(loss_of(ours, logits, reduction))
    for rows in (5, 1, 5, 2, 17 * classes, 1, 200):  # back to a traced size too
        for call in range(2):  # the first call of a new size traces, the second replays
            x = rng.standard_normal((rows, 4)).astype(dtype)
            t = rng.integers(0, classes, rows)
            expected, got = loss_of(eager, logits, reduction)(x, t), step(x, t)
            if call:  # the tape ran, not the eager fallback (which would equal eager trivially)
                assert assert_replayed(step, got).inputs == tuple(ours), rows
            assert same_bits(got.data, expected.data), rows
            expected.backward()
            got.backward()
            for e, o in zip(eager, ours):
                assert same_bits(o.grad, e.grad), rows
                e.data -= 0.1 * e.grad
                o.data -= 0.1 * o.grad
                e.grad = o.grad = None
    assert len(step.tapes) == 5 and not any(tape.eager_only for tape in step.tapes.values())
