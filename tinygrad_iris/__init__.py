"""tinygrad_iris: a small reverse-mode autodiff engine, and the StatQuest iris network on it."""

from .engine import Value, as_value, detect_anomaly, is_grad_enabled, no_grad, record
from .gradcheck import GradcheckError, gradcheck
from .ops import SOFTMAX_DENOMINATOR, cross_entropy, log_softmax, nll_loss, softmax, stack
from .render import (
    GraphvizNotFoundError,
    draw_graph,
    graph_nodes,
    groups_from_stages,
    render_bytes,
    render_graph,
)

__version__ = "0.1.0"
__all__ = [
    "SOFTMAX_DENOMINATOR",
    "GradcheckError",
    "GraphvizNotFoundError",
    "Value",
    "as_value",
    "cross_entropy",
    "detect_anomaly",
    "draw_graph",
    "gradcheck",
    "graph_nodes",
    "groups_from_stages",
    "is_grad_enabled",
    "log_softmax",
    "nll_loss",
    "no_grad",
    "record",
    "render_bytes",
    "render_graph",
    "softmax",
    "stack",
]
