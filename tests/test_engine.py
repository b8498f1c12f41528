"""Value semantics: construction, accumulation, graph state, threads, errors."""

import gc
import threading
import weakref

import numpy as np
import pytest

from tinygrad_iris import GradcheckError, Primitive, Value, gradcheck, no_grad, stack


# ----- construction ------------------------------------------------------------------------
def test_storage_types():
    assert Value(3).data == 3.0 and isinstance(Value(3).data, float)
    assert Value([1, 2]).data.dtype == np.float64
    assert Value(np.arange(3, dtype=np.int32)).data.dtype == np.float64
    assert Value(np.ones(2, dtype=np.float32)).data.dtype == np.float32
    assert Value(np.float16(1.5)).dtype == np.float64
    assert Value(np.array(2.5)).shape == ()


def test_construction_copies_the_array():
    source = np.ones(3)
    v = Value(source)
    v.data += 1
    np.testing.assert_array_equal(source, np.ones(3))


@pytest.mark.parametrize("bad", ["3", None, {"a": 1}, 1 + 2j, np.array(["a"]), object()])
def test_refuses_non_numbers(bad):
    with pytest.raises(TypeError, match="Value"):
        Value(bad)


def test_refuses_ragged_lists():
    with pytest.raises(ValueError, match="ragged"):
        Value([[1, 2], [3]])


def test_refuses_bad_name():
    with pytest.raises(TypeError, match="name"):
        Value(1.0, name=3)


def test_repr_and_item():
    assert repr(Value(-4.0)) == "Value(data=-4.0, grad=0.0)"
    assert "name='b3'" in repr(Value(-2.0, name="b3"))
    assert "shape=(2,)" in repr(Value([1.0, 2.0]))
    assert Value([[2.5]]).item() == 2.5 and float(Value(1.5)) == 1.5
    with pytest.raises(ValueError, match=r"\(2,\)"):
        Value([1.0, 2.0]).item()


def test_an_arrays_repr_never_shows_minus_zero_either():
    assert repr(Value(np.array([-0.0, 1.5]))) == "Value(shape=(2,), dtype=float64, data=[0. , 1.5])"
    assert "-0" not in repr(Value(np.array([[-0.0]], dtype=np.float32)))


# ----- backward semantics -------------------------------------------------------------------
def test_reused_nodes_accumulate():
    x = Value(3.0)
    ((x + x) * x).backward()  # d/dx 2x^2 = 4x
    assert x.grad == 12.0
    a = Value(2.0)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad == 4.0 and b.grad == 2.0


def test_second_backward_accumulates_and_zero_grad_resets():
    w = Value([1.0, -2.0])
    loss = (w * w).sum()
    loss.backward()
    np.testing.assert_array_equal(w.grad, [2.0, -4.0])
    loss.backward()  # PyTorch's rule: gradients add up
    np.testing.assert_array_equal(w.grad, [4.0, -8.0])
    loss.zero_grad()
    np.testing.assert_array_equal(w.grad, [0.0, 0.0])
    loss.backward()
    np.testing.assert_array_equal(w.grad, [2.0, -4.0])


def test_grad_of_sum_is_one():
    x = Value(np.random.default_rng(0).standard_normal((3, 4)))
    x.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones((3, 4)))


def test_gradient_is_linear():
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal(5)

    def grad_of(fn):
        x = Value(x0)
        fn(x).backward()
        return x.grad

    f = lambda x: (x * x).sum()  # noqa: E731
    g = lambda x: x.exp().sum()  # noqa: E731
    combined = grad_of(lambda x: f(x) * 2.0 + g(x) * -3.0)
    np.testing.assert_allclose(combined, 2.0 * grad_of(f) - 3.0 * grad_of(g), rtol=1e-12)


def test_non_scalar_backward_needs_gradient():
    y = Value([1.0, 2.0]) * 2
    with pytest.raises(ValueError, match=r"shape \(2,\).*gradient="):
        y.backward()
    with pytest.raises(ValueError, match="does not match"):
        y.backward(np.ones(3))
    y.backward(np.array([1.0, 10.0]))


def test_relu_gradient_at_zero_is_zero():
    x = Value([-1.0, 0.0, 2.0])
    x.relu().backward(np.ones(3))
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0])
    s = Value(0.0)
    s.relu().backward()
    assert s.grad == 0.0


def test_million_op_chain_backpropagates_without_recursion():
    x = Value(1.0)
    y = x
    for _ in range(1_000_000):
        y = y + 1.0
    y.backward()
    assert x.grad == 1.0 and y.data == 1_000_001.0


def test_parents_keep_their_order():
    a, b = Value(1.0, name="a"), Value(2.0, name="b")
    assert [p.name for p in (b - a)._parents] == ["b", "a"]
    assert [p.name for p in stack([b, a, b])._parents] == ["b", "a", "b"]


def test_graph_is_freed_by_reference_counting_alone():
    gc.disable()
    try:
        w = Value(np.ones(3))
        loss = ((w * 2.0).exp() / 3.0).relu().sum()
        loss.backward()
        probe = weakref.ref(loss)
        inner = weakref.ref(loss._parents[0])
        del loss
        assert probe() is None and inner() is None
    finally:
        gc.enable()


# ----- no_grad and detach ----------------------------------------------------------------------
def test_no_grad_and_detach():
    w = Value(2.0)
    with no_grad():
        y = w * 3.0
    assert not y.requires_grad and y._parents == ()
    z = w.detach() * 3.0
    assert not z.requires_grad
    with pytest.raises(RuntimeError, match="does not require"):
        z.backward()


def test_no_grad_is_per_thread():
    entered, release = threading.Event(), threading.Event()
    inside = []

    def hold_no_grad():
        with no_grad():
            entered.set()
            release.wait(5)
            inside.append((Value(1.0) * 2.0).requires_grad)

    thread = threading.Thread(target=hold_no_grad)
    thread.start()
    entered.wait(5)
    try:
        y = Value(1.0) * 2.0
        assert y.requires_grad
    finally:
        release.set()
        thread.join()
    assert inside == [False]


def test_constants_get_no_gradient_but_parameters_do():
    w = Value(np.ones((2, 3)))
    x = np.arange(4.0).reshape(2, 2)
    out = (x @ w).sum()
    out.backward()
    np.testing.assert_array_equal(w.grad, x.T @ np.ones((2, 3)))


# ----- errors --------------------------------------------------------------------------------
def test_shape_errors_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"\+.*\(2,\).*\(3,\)"):
        Value([1.0, 2.0]) + Value([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="@"):
        Value([[1.0, 2.0]]) @ Value([[1.0, 2.0]])
    with pytest.raises(ValueError, match="reshape"):
        Value([1.0, 2.0, 3.0]).reshape(2, 2)
    with pytest.raises(TypeError, match="exponent"):
        Value(2.0) ** Value(2.0)
    with pytest.raises(IndexError, match="index"):
        Value([1.0, 2.0])[5]


def test_division_by_zero_follows_numpy():
    with np.errstate(divide="ignore"):
        y = Value(1.0) / Value(0.0)
        assert y.data == np.inf
        a, b = Value(1.0), Value(0.0)
        (a / b).backward()
    assert a.grad == np.inf


# ----- gradcheck catches wrong gradients -------------------------------------------------------
def _wrong_square_vjp(g, out, a):
    return (g * a,)  # should be 2x


def test_gradcheck_fails_on_a_wrong_gradient():
    square = Primitive("square", lambda a: a**2, _wrong_square_vjp, derivatives=("2a",))
    with pytest.raises(GradcheckError, match=r"input 0.*element \(1,\)"):
        gradcheck(square, np.array([0.0, 3.0]))
    assert gradcheck(lambda v: v**2, np.array([0.0, 3.0]))


def test_one_no_grad_object_can_be_nested():
    quiet = no_grad()
    with quiet:
        with quiet:
            pass
        assert not (Value(1.0) * 2.0).requires_grad
    assert (Value(1.0) * 2.0).requires_grad


def test_scalar_value_is_truthy_like_micrograd():
    assert Value(0.0) and Value([0.0])


# ----- gradients handed to the user are theirs ---------------------------------------------------
def test_leaf_gradients_are_writable_and_not_shared():
    a, b = Value(np.ones(3)), Value(np.ones(3))
    upstream = np.full(3, 2.0)
    (a + b).backward(upstream)
    a.grad[0] = 100.0  # in-place edits (clipping, masking) touch this leaf only
    np.testing.assert_array_equal(b.grad, [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(upstream, [2.0, 2.0, 2.0])
    x = Value(np.ones(3))
    x.sum().backward()
    x.grad *= 0.5  # the broadcast gradient of sum is a real array, not a read-only view
    np.testing.assert_array_equal(x.grad, [0.5, 0.5, 0.5])


def test_changing_the_index_array_after_the_forward_pass_does_not_move_the_gradient():
    x = Value(np.arange(4.0))
    index = np.array([0, 1])
    y = x[index]
    index[:] = 3
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 0.0, 0.0])


def _transposing_vjp(g, out, a):
    return (np.transpose(g),)  # wrong: the input is (2, 3), g is (2, 3)


def test_a_wrongly_shaped_gradient_from_a_primitive_is_an_error_naming_it():
    x = Value(np.ones((2, 3)))
    y = Primitive("twice", lambda a: a * 2.0, _transposing_vjp, derivatives=("2",))(x)
    with pytest.raises(ValueError, match=r"backward of op 'twice'.*\(3, 2\).*\(2, 3\)"):
        y.backward(np.ones((2, 3)))
    assert x._grad is None  # and the failed pass left no partial gradient


def test_no_grad_decorator_keeps_the_function_identity():
    @no_grad()
    def predict(v):
        """Docs."""
        return v * 2.0

    assert predict.__name__ == "predict" and predict.__doc__ == "Docs." and predict.__wrapped__
    assert not predict(Value(1.0)).requires_grad
