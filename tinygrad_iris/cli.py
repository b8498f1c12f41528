"""The ``tinygrad-iris`` command (also ``python -m tinygrad_iris``): the articles, end to end.

Exit status: 0 success, 2 usage error, 1 runtime error, 130 interrupted. Every error is one
line on stderr, never a traceback; files are written atomically (never half-written).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import numpy as np

from .article_graph import article_graph
from .files import IMAGE_FORMATS, write_atomically
from .iris import IrisData, load_iris
from .network import (
    ARTICLE_B3,
    B3_CURVE,
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    OPTIMIZERS,
    IrisNetwork,
    TrainingHistory,
    article_table,
    b3_curve,
    b3_minimum,
    evaluate,
    optimize_b3,
    train,
)
from .render import FORMATS, GraphvizNotFoundError, render_bytes

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = ["main"]

PROG = "tinygrad-iris"
MAX_COUNT = 1_000_000  # steps or epochs: beyond this a typo is likelier than a wish
MAX_B3 = 100.0  # |b3| beyond this underflows a probability to 0 and the cross-entropy to inf
MAX_LR = 100.0
DEFAULT_STEPS = 10


class UsageError(Exception):
    """A bad command line: exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {' '.join(message.split())}")

    def print_help(self, file: SupportsWrite[str] | None = None) -> None:
        # argparse ignores a failed write here: a help that never reached a full disk would exit 0.
        (file or sys.stdout).write(self.format_help())


# ----- argument types: each rejects with a message argparse prefixes with the option's name --------
def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _b3(text: str) -> float:
    value = _number(text)
    if abs(value) > MAX_B3:
        raise argparse.ArgumentTypeError(f"{text} is outside [-{MAX_B3:g}, {MAX_B3:g}]")
    return value


def _learning_rate(text: str) -> float:
    value = _number(text)
    if not 0 < value <= MAX_LR:
        raise argparse.ArgumentTypeError(f"{text} must be greater than 0 and at most {MAX_LR:g}")
    return value


def _whole_number(largest: int, largest_text: str) -> Callable[[str], int]:
    """An argument type for whole numbers in [0, largest]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not 0 <= value <= largest:
            raise argparse.ArgumentTypeError(f"{text} must be between 0 and {largest_text}")
        return value

    return parse


_count = _whole_number(MAX_COUNT, f"{MAX_COUNT:,}")
_seed = _whole_number(2**63 - 1, "2**63 - 1")


def _image_path(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower().lstrip(".") not in IMAGE_FORMATS:
        raise argparse.ArgumentTypeError(f"{text!r} must end in .png, .svg or .pdf")
    return path


# ----- output ---------------------------------------------------------------------------------------
def _print_json(document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2, allow_nan=False))


def _check_writable(path: Path) -> None:
    """Fail before the work, not after it, when ``path`` cannot be written."""
    folder = path.parent
    if path.is_dir():
        raise OSError(f"cannot write {path}: it is a directory")
    if path.exists() and not path.is_file():  # a pipe or device: replacing it would destroy it
        raise OSError(f"cannot write {path}: it exists and is not a regular file")
    if not folder.is_dir():
        raise OSError(f"cannot write {path}: no directory {folder}")
    if not os.access(folder, os.W_OK):
        raise OSError(f"cannot write {path}: directory {folder} is not writable")


def _plots() -> Any:
    try:
        from . import plots
    except ImportError as err:
        raise RuntimeError(
            f"drawing needs matplotlib ({err}); install it with: pip install 'tinygrad_iris[plot]'"
        ) from None
    return plots


class _Progress:
    """A one-line bar on a terminal (stderr); ten plain lines otherwise (stdout); or nothing."""

    def __init__(self, total: int, quiet: bool, stderr: TextIO, stdout: TextIO):
        self.total, self.stderr, self.stdout = total, stderr, stdout
        self.mode = "off" if quiet or total == 0 else "bar" if stderr.isatty() else "lines"
        self.drawn_at = 0.0

    def __call__(self, epoch: int, loss: float, accuracy: float) -> None:
        done = epoch + 1
        status = f"epoch {done}/{self.total}  loss {loss:.4f}  accuracy {accuracy:.1%}"
        if self.mode == "bar" and (done == self.total or time.monotonic() - self.drawn_at > 0.05):
            filled = round(24 * done / self.total)
            self.stderr.write(f"\r\x1b[K[{'#' * filled}{'.' * (24 - filled)}] {status}")
            self.stderr.flush()
            self.drawn_at = time.monotonic()
        elif self.mode == "lines" and (done % max(self.total // 10, 1) == 0 or done == self.total):
            print(status, file=self.stdout)

    def close(self) -> None:
        if self.mode == "bar" and self.drawn_at:
            self.stderr.write("\n")


def _train(
    net: IrisNetwork, data: IrisData, epochs: int, optimizer: str, lr: float | None, quiet: bool
) -> tuple[TrainingHistory, float, float]:
    """Train with a progress display; return the history and the final (mean CE, accuracy)."""
    progress = _Progress(epochs, quiet, sys.stderr, sys.stdout)
    try:
        history = train(net, data.X, data.labels, epochs, optimizer, lr, on_epoch=progress)
    finally:
        progress.close()
    loss, accuracy = evaluate(net, data.X, data.labels)
    if not (math.isfinite(loss) and all(np.isfinite(p.data).all() for p in net.parameters())):
        raise RuntimeError(
            f"training diverged: mean cross entropy {loss:g} after {epochs} epochs (the parameters "
            "overflowed; try a smaller --lr or other starting values); nothing was saved"
        )
    return history, loss, accuracy


# ----- the commands -----------------------------------------------------------------------------------
def _table_document(b3: float) -> dict[str, Any]:
    table = article_table(b3)
    return {
        "b3": table.b3,
        "rows": [vars(row) for row in table.rows],
        "total_cross_entropy": table.total_cross_entropy,
    }


def _print_table(document: dict[str, Any]) -> None:
    print(f"b3 = {document['b3']:g}")
    print(f"{'petal':>6} {'sepal':>6}  {'species':<11}{'p':>6} {'cross entropy':>14}")
    for row in document["rows"]:
        print(
            f"{row['petal']:6.2f} {row['sepal']:6.2f}  {row['species']:<11}"
            f"{row['p']:6.2f} {row['cross_entropy']:14.2f}"
        )
    total = document["total_cross_entropy"]
    print(f"total cross entropy: {total:.2f} ({total:.5f})")


def cmd_table(args: argparse.Namespace) -> None:
    document = _table_document(args.b3)
    if args.json:
        _print_json(document)
    else:
        _print_table(document)


def _descent_document(start: float, lr: float, steps: int) -> dict[str, Any]:
    descent = optimize_b3(start, lr, steps)
    return {"steps": [vars(step) for step in descent.steps], "b3": descent.b3}


def _print_descent(document: dict[str, Any], start: float, lr: float) -> None:
    print(f"gradient descent on b3 from {start:g}, learning rate {lr:g}; d(total CE)/d(b3) by backward()")
    print(f"{'step':>4} {'b3':>10} {'total CE':>10} {'gradient':>10}")
    for step in document["steps"]:
        print(
            f"{step['step']:4d} {step['b3']:10.4f} "
            f"{step['total_cross_entropy']:10.4f} {step['gradient']:10.4f}"
        )
    print(f"b3 after {len(document['steps'])} steps: {document['b3']:.5f}")


def cmd_optimize_b3(args: argparse.Namespace) -> None:
    document = _descent_document(args.start, args.lr, args.steps)
    if args.json:
        _print_json(document)
    else:
        _print_descent(document, args.start, args.lr)


def _draw_curve(path: Path) -> Path:
    return _plots().plot_b3_curve(
        path, B3_CURVE, b3_curve(), optimize_b3(steps=DEFAULT_STEPS).steps, b3_minimum()
    )


def cmd_curve(args: argparse.Namespace) -> None:
    _check_writable(args.output)
    minimum = b3_minimum()
    path = _draw_curve(args.output)
    print(f"wrote {path} (minimum: b3 = {minimum.b3:.5f}, total CE {minimum.total_cross_entropy:.4f})")


def _graph_format(output: str, format: str | None) -> str:
    """--format if given; DOT text for stdout; otherwise the output file's extension (.gv is DOT)."""
    if format is not None:
        return format
    if output == "-":
        return "dot"
    extension = Path(output).suffix.lower().lstrip(".")
    extension = "dot" if extension == "gv" else extension
    if extension not in FORMATS:
        raise UsageError(
            f"{PROG} graph: error: cannot tell the format of {output!r} from its extension; "
            f"name it .svg, .png, .pdf or .dot, or pass --format"
        )
    return extension


def _write_graph(path: Path, b3: float, format: str) -> Path:
    data = render_bytes(article_graph(b3), format)  # before touching the file: dot may be missing
    return write_atomically(path, lambda file: file.write(data))


def cmd_graph(args: argparse.Namespace) -> None:
    format = _graph_format(args.output, args.format)
    if args.output == "-":
        data = render_bytes(article_graph(args.b3), format)
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        return
    path = Path(args.output)
    _check_writable(path)
    _write_graph(path, args.b3, format)
    print(f"wrote {path} ({format}): the three rows' graph at b3 = {args.b3:g}, b3's paths in pink")


def cmd_train(args: argparse.Namespace) -> None:
    if args.save is not None:
        _check_writable(args.save)
    net = IrisNetwork() if args.init == "article" else IrisNetwork.random(args.seed)
    if args.load is not None:
        net.load(args.load)
    data = load_iris()
    dead_before = net.dead_units(data.X)
    if dead_before and not args.json:
        print(f"warning: hidden node(s) {', '.join(dead_before)} output 0 on every flower before training")
    _, loss, accuracy = _train(net, data, args.epochs, args.optimizer, args.lr, quiet=args.json)
    dead = net.dead_units(data.X)
    if args.save is not None:
        net.save(args.save)
    lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    if args.json:
        _print_json(
            {
                "samples": len(data.labels),
                "epochs": args.epochs,
                "loss": loss,
                "accuracy": accuracy,
                "optimizer": args.optimizer,
                "lr": lr,
                "dead_units": dead,
            }
        )
        return
    correct = round(accuracy * len(data.labels))
    print(f"trained {args.epochs} epochs ({args.optimizer}, lr {lr:g}) on {len(data.labels)} flowers")
    print(f"mean cross entropy {loss:.4f}, accuracy {accuracy:.1%} ({correct}/{len(data.labels)})")
    if dead:
        print(f"warning: dead hidden node(s) after training: {', '.join(dead)} (try another --seed)")
    if args.save is not None:
        print(f"saved the parameters to {args.save}")


def cmd_demo(args: argparse.Namespace) -> None:
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise OSError(f"cannot write to {out}: it is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(f"cannot create the folder {out}: {err.strerror or err}") from None
    _check_writable(out / "curve.png")
    plots = _plots()
    data = load_iris()
    written = []

    print("== The forward pass for the articles' three flowers (b3 = -2) ==")
    _print_table(_table_document(ARTICLE_B3))
    print("\n== Backpropagation: gradient descent on b3 alone ==")
    _print_descent(_descent_document(ARTICLE_B3, 1.0, DEFAULT_STEPS), ARTICLE_B3, 1.0)
    minimum = b3_minimum()
    print(f"minimum: b3 = {minimum.b3:.5f}, total cross entropy {minimum.total_cross_entropy:.4f}")
    written.append(_draw_curve(out / "curve.png"))
    try:
        written.append(_write_graph(out / "graph.svg", ARTICLE_B3, "svg"))
    except GraphvizNotFoundError as err:  # the graph is worth having even as DOT text
        _fail(f"{PROG}: warning: {err}; writing graph.dot instead of graph.svg")
        written.append(_write_graph(out / "graph.dot", ARTICLE_B3, "dot"))

    print("\n== Training every weight and bias on Fisher's 150 flowers ==")
    before = IrisNetwork(b3=0.0)
    correct = int(np.sum(before.predict(data.X) == data.labels))
    print(f"the articles' network with b3 = 0 classifies {correct} of {len(data.labels)} flowers")
    net = IrisNetwork()
    history, loss, accuracy = _train(net, data, DEFAULT_EPOCHS, "adam", None, quiet=False)
    print(f"after {DEFAULT_EPOCHS} epochs of Adam: mean cross entropy {loss:.4f}, accuracy {accuracy:.1%}")
    written.append(plots.plot_training(out / "training.png", history))
    title = "after training"
    written.append(plots.plot_hidden_surfaces(out / "hidden_surfaces.png", net, f"Hidden nodes {title}"))
    written.append(plots.plot_raw_output_surfaces(out / "raw_outputs.png", net, f"Raw outputs {title}"))
    written.append(plots.plot_decision_regions(out / "decision_regions.png", net, data))
    params = out / "params.npz"
    net.save(params)
    written.append(params)

    print(f"\nwrote {len(written)} files to {out}/:")
    for path in written:
        print(f"  {path}")


# ----- the parser and main -----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="The StatQuest iris network on a small autodiff engine.")
    commands = parser.add_subparsers(dest="command", metavar="command", required=True)

    table = commands.add_parser("table", help="the articles' forward-pass table for the three flowers")
    table.add_argument("--b3", type=_b3, default=ARTICLE_B3, help="the bias b3 (default: -2)")
    table.add_argument("--json", action="store_true", help="print JSON instead of a table")
    table.set_defaults(run=cmd_table)

    descent = commands.add_parser("optimize-b3", help="gradient descent on b3 alone, by backward()")
    descent.add_argument("--start", type=_b3, default=ARTICLE_B3, help="starting b3 (default: -2)")
    descent.add_argument("--lr", type=_learning_rate, default=1.0, help="learning rate (default: 1)")
    descent.add_argument("--steps", type=_count, default=DEFAULT_STEPS, help="number of steps (default: 10)")
    descent.add_argument("--json", action="store_true", help="print JSON instead of lines")
    descent.set_defaults(run=cmd_optimize_b3)

    curve = commands.add_parser("curve", help="plot the pink curve: total cross entropy against b3")
    curve.add_argument(
        "-o",
        "--output",
        type=_image_path,
        default=Path("curve.png"),
        help="image file, .png/.svg/.pdf (default: curve.png)",
    )
    curve.set_defaults(run=cmd_curve)

    graph = commands.add_parser(
        "graph", help="draw the three rows' computation graph with b3's paths highlighted"
    )
    graph.add_argument("--b3", type=_b3, default=ARTICLE_B3, help="the bias b3 (default: -2)")
    graph.add_argument(
        "-o",
        "--output",
        default="graph.svg",
        metavar="FILE",
        help="output file; '-' writes to stdout (default: graph.svg)",
    )
    graph.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="svg, png, pdf or dot (default: the file's extension; dot for stdout)",
    )
    graph.set_defaults(run=cmd_graph)

    fit = commands.add_parser("train", help="train every weight and bias on all 150 flowers")
    fit.add_argument(
        "--epochs", type=_count, default=DEFAULT_EPOCHS, help=f"full-batch epochs (default: {DEFAULT_EPOCHS})"
    )
    fit.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default="adam",
        help="adam, or sgd with momentum 0.9 (default: adam)",
    )
    fit.add_argument(
        "--lr",
        type=_learning_rate,
        default=None,
        help=f"learning rate (default: {DEFAULT_LR['adam']:g} for adam, {DEFAULT_LR['sgd']:g} for sgd)",
    )
    fit.add_argument(
        "--init", choices=("article", "random"), default="article", help="starting weights (default: article)"
    )
    fit.add_argument("--seed", type=_seed, default=0, help="seed of the random start (default: 0)")
    fit.add_argument("--save", type=Path, metavar="PARAMS.npz", help="write the trained parameters here")
    fit.add_argument("--load", type=Path, metavar="PARAMS.npz", help="start from parameters saved by --save")
    fit.add_argument("--json", action="store_true", help="print JSON instead of lines (no progress)")
    fit.set_defaults(run=cmd_train)

    demo = commands.add_parser("demo", help="the articles end to end, then training; writes figures")
    demo.add_argument(
        "--out", type=Path, default=Path("out"), metavar="DIR", help="output folder (default: ./out)"
    )
    demo.set_defaults(run=cmd_demo)
    return parser


def _fail(message: str) -> None:
    print(" ".join(message.split()), file=sys.stderr)


def _attach_negative_numbers(argv: Sequence[str]) -> list[str]:
    """``--b3 -1e3`` -> ``--b3=-1e3``: argparse takes "-1e3" for an option, not a negative number."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1].startswith("--") and "=" not in out[-1] and arg.startswith("-"):
            try:
                float(arg)
            except ValueError:
                pass
            else:
                out[-1] = f"{out[-1]}={arg}"
                continue
        out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: sys.argv[1:]); return the exit status."""
    for stream in (sys.stdout, sys.stderr):
        # A file name that is not UTF-8 arrives as surrogate escapes; printing it must not
        # turn a finished command into an error (stderr already does this by default).
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="backslashreplace")
    try:
        try:
            args = build_parser().parse_args(_attach_negative_numbers(sys.argv[1:] if argv is None else argv))
        except SystemExit as done:  # --help
            sys.stdout.flush()  # a full disk must not pass for a printed help
            return done.code if isinstance(done.code, int) else 0
        run: Callable[[argparse.Namespace], None] = args.run
        with np.errstate(all="ignore"):  # overflow is caught where it matters (training diverging),
            run(args)  # not printed as NumPy warnings: those would be more lines on stderr
        sys.stdout.flush()
        return 0
    except UsageError as err:
        _fail(str(err))
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `tinygrad-iris table | head -1`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (OSError, ValueError, RuntimeError) as err:
        _fail(f"{PROG}: error: {err}")
        return 1
    except Exception as err:  # a bug: still one line, with the exception's type
        _fail(f"{PROG}: internal error: {type(err).__name__}: {err}")
        return 1
