"""tinygrad_iris: a small reverse-mode autodiff engine, and the StatQuest iris network on it."""

from . import nn, optim  # PyTorch's spelling: tg.nn.Linear, tg.optim.SGD
from .compiled import compile
from .engine import (
    Primitive,
    Value,
    as_value,
    broadcast_to,
    detect_anomaly,
    exp,
    grad,
    is_grad_enabled,
    log,
    no_grad,
    relu,
    sigmoid,
    sum_to,
    tanh,
    toposort,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ops import SOFTMAX_DENOMINATOR, cross_entropy, log_softmax, nll_loss, softmax, stack
from .render import (
    GraphvizNotFoundError,
    draw_graph,
    graph_nodes,
    groups_from_stages,
    render_bytes,
    render_graph,
)
from .steps import BackwardRecord, record_backward

__version__ = "0.1.0"
__all__ = [
    "SOFTMAX_DENOMINATOR",
    "BackwardRecord",
    "GradcheckError",
    "GraphvizNotFoundError",
    "Primitive",
    "Value",
    "as_value",
    "broadcast_to",
    "compile",
    "cross_entropy",
    "detect_anomaly",
    "draw_graph",
    "exp",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "graph_nodes",
    "groups_from_stages",
    "is_grad_enabled",
    "log",
    "log_softmax",
    "nll_loss",
    "nn",
    "no_grad",
    "optim",
    "record_backward",
    "relu",
    "render_bytes",
    "render_graph",
    "sigmoid",
    "softmax",
    "stack",
    "sum_to",
    "tanh",
    "toposort",
]
