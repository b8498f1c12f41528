"""The ``tinygrad-iris`` command (also ``python -m tinygrad_iris``): the articles, end to end.

Each command is one class below: its name and help line, its arguments (`Command.add_arguments`)
next to what it runs (`Command.run`); `build_parser` assembles the parser from `COMMANDS`, so a
new command is one block (docs/files-and-cli.md, "Adding a figure or a command").

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
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import numpy as np

from .arguments import b3_text, count_text, learning_rate_text, output_path_text, seed_text
from .article import (
    ARTICLE_LR,
    DEFAULT_STEPS,
    METHODS,
    NEWTON_STEPS,
    ArticleTable,
    Descent,
    article_table,
    b3_minimum,
    optimize_b3,
)
from .figures import FIGURES, Inputs, NamedFigure, plots_module
from .files import check_writable, format_from_name, make_folder, suffixes
from .iris import IrisData, load_iris
from .network import ARTICLE_B3, IrisNetwork
from .render import GraphvizNotFoundError
from .training import DEFAULT_EPOCHS, DEFAULT_LR, OPTIMIZERS, Trained, train

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = ["COMMANDS", "Command", "build_parser", "command", "main"]

PROG = "tinygrad-iris"
PARAMS_FILE = "params.npz"  # what the demo saves the trained parameters as


class UsageError(Exception):
    """A bad command line: exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {' '.join(message.split())}")

    def print_help(self, file: SupportsWrite[str] | None = None) -> None:
        # argparse ignores a failed write here: a help that never reached a full disk would exit 0.
        (file or sys.stdout).write(self.format_help())


# ----- what the commands share ----------------------------------------------------------------------
def _print_json(document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2, allow_nan=False))


def _fail(message: str) -> None:
    print(" ".join(message.split()), file=sys.stderr)


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


def _add_b3(parser: argparse.ArgumentParser, flag: str = "--b3", what: str = "the bias b3") -> None:
    parser.add_argument(flag, type=b3_text, default=ARTICLE_B3, help=f"{what} (default: {ARTICLE_B3:g})")


def _add_figure_output(parser: argparse.ArgumentParser, figure: NamedFigure, what: str) -> None:
    """-o/--output: a path in one of the figure's formats, by default its file."""
    parser.add_argument(
        "-o",
        "--output",
        type=output_path_text(figure.formats),
        default=Path(figure.file),
        help=f"{what} (default: {figure.file})",
    )


def _train_with_progress(
    net: IrisNetwork, data: IrisData, epochs: int, optimizer: str, lr: float | None, quiet: bool
) -> Trained:
    """`training.train` with a progress display, then measured; a RuntimeError if it diverged."""
    progress = _Progress(epochs, quiet, sys.stderr, sys.stdout)
    try:
        history = train(net, data.X, data.labels, epochs, optimizer, lr, on_epoch=progress)
    finally:
        progress.close()
    trained = Trained.measure(net, data, history)
    if not (math.isfinite(trained.loss) and all(np.isfinite(p.data).all() for p in net.parameters())):
        raise RuntimeError(
            f"training diverged: mean cross entropy {trained.loss:g} after {epochs} epochs (the parameters "
            "overflowed; try a smaller --lr or other starting values); nothing was saved"
        )
    return trained


def _print_table(table: ArticleTable) -> None:
    print(f"b3 = {table.b3:g}")
    print(f"{'petal':>6} {'sepal':>6}  {'species':<11}{'p':>6} {'cross entropy':>14}")
    for row in table.rows:
        print(f"{row.petal:6.2f} {row.sepal:6.2f}  {row.species:<11}{row.p:6.2f} {row.cross_entropy:14.2f}")
    total = table.total_cross_entropy
    print(f"total cross entropy: {total:.2f} ({total:.5f})")


def _print_descent(descent: Descent, start: float, lr: float) -> None:
    if descent.method == "newton":
        rule = "b3 <- b3 - gradient / curvature" if lr == 1 else f"b3 <- b3 - {lr:g} * gradient / curvature"
        print(f"Newton's method on b3 from {start:g}: {rule}")
    else:
        print(f"gradient descent on b3 from {start:g}, learning rate {lr:g}")
    print("gradient d(total CE)/d(b3) and curvature d^2(total CE)/d(b3)^2 by grad(), twice")
    print(f"{'step':>4} {'b3':>10} {'total CE':>10} {'gradient':>11} {'curvature':>10}")
    for step in descent.steps:
        print(
            f"{step.step:4d} {step.b3:10.6f} {step.total_cross_entropy:10.6f} "
            f"{step.gradient:11.4g} {step.curvature:10.5f}"
        )
    print(f"b3 after {len(descent.steps)} steps: {descent.b3:.6f}")


# ----- the commands -----------------------------------------------------------------------------------
class Command:
    """One subcommand: its options, and what it runs. `command` gives it its name and help line."""

    name: str
    help: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add this command's options to its parser (called each time the parser is built)."""

    def run(self, args: argparse.Namespace) -> None:
        raise NotImplementedError


COMMANDS: dict[str, Command] = {}  # in the order `--help` lists them


def command(name: str, help: str) -> Callable[[type[Command]], type[Command]]:
    """Class decorator: the command ``name`` (with ``help`` in the list of commands) joins `COMMANDS`."""

    def register(cls: type[Command]) -> type[Command]:
        if name in COMMANDS:
            raise ValueError(f"command {name!r} is registered twice")
        cls.name, cls.help = name, help
        COMMANDS[name] = cls()
        return cls

    return register


@command("table", "the articles' forward-pass table for the three flowers")
class Table(Command):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        _add_b3(parser)
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def run(self, args: argparse.Namespace) -> None:
        table = article_table(args.b3)
        if args.json:
            _print_json(asdict(table))
        else:
            _print_table(table)


@command("optimize-b3", "gradient descent or Newton's method on b3 alone")
class OptimizeB3(Command):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        _add_b3(parser, "--start", "starting b3")
        parser.add_argument(
            "--method",
            choices=METHODS,
            default="gradient",
            help="gradient: b3 - lr * gradient; newton: b3 - lr * gradient / curvature (default: gradient)",
        )
        parser.add_argument(
            "--lr",
            type=learning_rate_text,
            default=ARTICLE_LR,
            help=f"learning rate, for newton the fraction of its step (default: {ARTICLE_LR:g})",
        )
        parser.add_argument(
            "--steps",
            type=count_text,
            default=None,
            help=f"number of steps (default: {DEFAULT_STEPS} for gradient, {NEWTON_STEPS} for newton)",
        )
        parser.add_argument("--json", action="store_true", help="print JSON instead of lines")

    def run(self, args: argparse.Namespace) -> None:
        descent = optimize_b3(args.start, args.lr, args.steps, args.method)
        if args.json:
            _print_json(asdict(descent))
        else:
            _print_descent(descent, args.start, args.lr)


@command("curve", "plot the pink curve: total cross entropy against b3")
class Curve(Command):
    figure = FIGURES["curve"]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        formats = "/".join(f".{format}" for format in self.figure.formats)
        _add_figure_output(parser, self.figure, f"image file, {formats}")

    def run(self, args: argparse.Namespace) -> None:
        check_writable(args.output)
        minimum = b3_minimum()
        path = self.figure.write(Inputs(), args.output)
        print(f"wrote {path} (minimum: b3 = {minimum.b3:.5f}, total CE {minimum.total_cross_entropy:.4f})")


@command("graph", "draw the three rows' computation graph with b3's paths highlighted")
class Graph(Command):
    figure = FIGURES["graph"]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        _add_b3(parser)
        parser.add_argument(
            "-o",
            "--output",
            default=self.figure.file,
            metavar="FILE",
            help=f"output file; '-' writes to stdout (default: {self.figure.file})",
        )
        parser.add_argument(
            "--format",
            choices=self.figure.formats,
            default=None,
            help="svg, png, pdf or dot (default: the file's extension; dot for stdout)",
        )

    def output_format(self, output: str, format: str | None) -> str:
        """--format if given; DOT text for stdout; otherwise the output file's extension."""
        if format is not None:
            return format
        if output == "-":
            return "dot"
        format = format_from_name(output)
        if format not in self.figure.formats:
            raise UsageError(
                f"{PROG} graph: error: cannot tell the format of {output!r} from its extension; "
                f"name it {suffixes(self.figure.formats)}, or pass --format"
            )
        return format

    def run(self, args: argparse.Namespace) -> None:
        format = self.output_format(args.output, args.format)
        inputs = Inputs(b3=args.b3)
        if args.output == "-":
            data = self.figure.render(inputs, format)
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            return
        path = Path(args.output)
        check_writable(path)
        self.figure.write(inputs, path, format)
        print(f"wrote {path} ({format}): the three rows' graph at b3 = {args.b3:g}, b3's paths in pink")


@command("backprop", "write a page that steps through backward() on the three rows' graph")
class Backprop(Command):
    figure = FIGURES["backprop"]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        _add_b3(parser)
        _add_figure_output(parser, self.figure, "the page, an .html file")

    def run(self, args: argparse.Namespace) -> None:
        check_writable(args.output)
        started = time.perf_counter()
        path = self.figure.write(Inputs(b3=args.b3), args.output)
        seconds = time.perf_counter() - started
        print(
            f"wrote {path} ({path.stat().st_size / 1000:.0f} kB, {seconds:.2f} s): backward() step by step "
            f"on the three rows at b3 = {args.b3:g}; open it in a browser (it works offline)"
        )


@command("train", "train every weight and bias on all 150 flowers")
class Train(Command):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.description = (
            "Train every weight and bias on all 150 flowers, full batch. Each epoch's forward and "
            "backward pass runs compiled (tinygrad_iris.compile: traced in the first epoch, then "
            "replayed), which gives the eager engine's losses and parameters bit for bit."
        )
        parser.add_argument(
            "--epochs",
            type=count_text,
            default=DEFAULT_EPOCHS,
            help=f"full-batch epochs (default: {DEFAULT_EPOCHS})",
        )
        parser.add_argument(
            "--optimizer",
            choices=OPTIMIZERS,
            default="adam",
            help="adam, or sgd with momentum 0.9 (default: adam)",
        )
        parser.add_argument(
            "--lr",
            type=learning_rate_text,
            default=None,
            help=f"learning rate (default: {DEFAULT_LR['adam']:g} for adam, {DEFAULT_LR['sgd']:g} for sgd)",
        )
        parser.add_argument(
            "--init",
            choices=("article", "random"),
            default="article",
            help="starting weights (default: article)",
        )
        parser.add_argument("--seed", type=seed_text, default=0, help="seed of the random start (default: 0)")
        parser.add_argument(
            "--save", type=Path, metavar="PARAMS.npz", help="write the trained parameters here"
        )
        parser.add_argument(
            "--load", type=Path, metavar="PARAMS.npz", help="start from parameters saved by --save"
        )
        parser.add_argument("--json", action="store_true", help="print JSON instead of lines (no progress)")

    def run(self, args: argparse.Namespace) -> None:
        if args.save is not None:
            check_writable(args.save)
        net = IrisNetwork() if args.init == "article" else IrisNetwork.random(args.seed)
        if args.load is not None:
            net.load(args.load)
        data = load_iris()
        dead_before = net.dead_units(data.X)
        if dead_before and not args.json:
            print(
                f"warning: hidden node(s) {', '.join(dead_before)} output 0 on every flower before training"
            )
        trained = _train_with_progress(net, data, args.epochs, args.optimizer, args.lr, quiet=args.json)
        dead = net.dead_units(data.X)
        if args.save is not None:
            net.save(args.save)
        lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
        flowers = len(data.labels)
        if args.json:
            _print_json(
                {
                    "samples": flowers,
                    "epochs": args.epochs,
                    "loss": trained.loss,
                    "accuracy": trained.accuracy,
                    "optimizer": args.optimizer,
                    "lr": lr,
                    "dead_units": dead,
                }
            )
            return
        correct = round(trained.accuracy * flowers)
        print(f"trained {args.epochs} epochs ({args.optimizer}, lr {lr:g}) on {flowers} flowers")
        print(f"mean cross entropy {trained.loss:.4f}, accuracy {trained.accuracy:.1%} ({correct}/{flowers})")
        if dead:
            print(f"warning: dead hidden node(s) after training: {', '.join(dead)} (try another --seed)")
        if args.save is not None:
            print(f"saved the parameters to {args.save}")


@command("demo", "the articles end to end, then training; writes figures")
class Demo(Command):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--out", type=Path, default=Path("out"), metavar="DIR", help="output folder (default: ./out)"
        )

    def run(self, args: argparse.Namespace) -> None:
        out = make_folder(args.out)
        for name in [*(figure.file for figure in FIGURES.values()), PARAMS_FILE]:
            check_writable(out / name)
        plots_module()  # before the work: matplotlib may be missing

        print("== The forward pass for the articles' three flowers (b3 = -2) ==")
        _print_table(article_table(ARTICLE_B3))
        print("\n== Backpropagation: gradient descent on b3 alone ==")
        _print_descent(optimize_b3(ARTICLE_B3, ARTICLE_LR), ARTICLE_B3, ARTICLE_LR)
        minimum = b3_minimum()
        print(f"minimum: b3 = {minimum.b3:.5f}, total cross entropy {minimum.total_cross_entropy:.4f}")
        print("\n== Second derivatives: Newton's method on b3, from the curve's curvature ==")
        _print_descent(optimize_b3(ARTICLE_B3, ARTICLE_LR, method="newton"), ARTICLE_B3, ARTICLE_LR)

        print("\n== Training every weight and bias on Fisher's 150 flowers ==")
        data = load_iris()
        correct = int(np.sum(IrisNetwork(b3=0.0).predict(data.X) == data.labels))
        print(f"the articles' network with b3 = 0 classifies {correct} of {len(data.labels)} flowers")
        trained = _train_with_progress(IrisNetwork(), data, DEFAULT_EPOCHS, "adam", None, quiet=False)
        print(
            f"after {DEFAULT_EPOCHS} epochs of Adam: mean cross entropy {trained.loss:.4f}, "
            f"accuracy {trained.accuracy:.1%}"
        )

        inputs = Inputs(trained=trained)
        written = [path for figure in FIGURES.values() if (path := self.write(figure, inputs, out))]
        written.append(trained.net.save(out / PARAMS_FILE))
        print(f"\nwrote {len(written)} files to {out}/:")
        for path in written:
            print(f"  {path}")
        page = out / FIGURES["backprop"].file
        if page in written:
            print(f"open {page} in a browser to watch backward() step by step, node by node")

    @staticmethod
    def write(figure: NamedFigure, inputs: Inputs, out: Path) -> Path | None:
        """The figure into ``out``; a graph becomes DOT text if Graphviz's dot is missing, and a
        figure that needs dot and has no DOT form is left out (None), with a warning."""
        try:
            return figure.write(inputs, out / figure.file)
        except GraphvizNotFoundError as err:  # the graph is worth having even as DOT text
            if "dot" not in figure.formats:
                _fail(f"{PROG}: warning: {err}; {figure.file} needs it and is not written")
                return None
            fallback = Path(figure.file).with_suffix(".dot").name
            _fail(f"{PROG}: warning: {err}; writing {fallback} instead of {figure.file}")
            return figure.write(inputs, out / fallback, "dot")


# ----- the parser and main -----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The parser of every command in `COMMANDS`; each sets ``run`` to what it runs."""
    parser = _Parser(prog=PROG, description="The StatQuest iris network on a small autodiff engine.")
    subparsers = parser.add_subparsers(dest="command", metavar="command", required=True)
    for each in COMMANDS.values():
        subparser = subparsers.add_parser(each.name, help=each.help)
        each.add_arguments(subparser)
        subparser.set_defaults(run=each.run)
    return parser


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
