"""The articles' formulas written out by hand in plain Python: the reference the tests check against.

Nothing here imports the package: these numbers are derived independently of the code under test.
"""

import math

ROWS = [(0.04, 0.42, 0), (1.00, 0.54, 2), (0.50, 0.37, 1)]  # the article's table, as printed


def hand_probabilities(petal, sepal, b3):
    upper = max(petal * -2.5 + sepal * 0.6 + 1.6, 0.0)
    bottom = max(petal * -1.5 + sepal * 0.4 + 0.7, 0.0)
    raw = [
        upper * -0.1 + bottom * 1.5 + b3,
        upper * 2.4 + bottom * -5.2 + 0.0,
        upper * -2.2 + bottom * 3.7 + 1.0,
    ]
    exps = [math.exp(r) for r in raw]
    return [e / sum(exps) for e in exps]


def hand_total(b3, rows=ROWS):
    return sum(-math.log(hand_probabilities(p, s, b3)[t]) for p, s, t in rows)


def hand_gradient(b3, rows=ROWS):
    """d total / d b3 = sum over rows of (p_setosa - [species is Setosa])."""
    return sum(hand_probabilities(p, s, b3)[0] - (t == 0) for p, s, t in rows)


def hand_curvature_terms(b3, rows=ROWS):
    """Each row's d2 CE / d b3^2 = d p_setosa / d b3 = p_setosa (1 - p_setosa)."""
    return [p * (1 - p) for p in (hand_probabilities(petal, sepal, b3)[0] for petal, sepal, _ in rows)]


def hand_curvature(b3, rows=ROWS):
    """d2 total / d b3^2: the pink curve's curvature, the sum of the rows' terms."""
    return sum(hand_curvature_terms(b3, rows))


def hand_newton(b3, steps):
    """Newton's method on b3: the b3 before each step, and the one after the last."""
    path = [b3]
    for _ in range(steps):
        b3 -= hand_gradient(b3) / hand_curvature(b3)
        path.append(b3)
    return path
