"""Draw the graph of a small expression, every path from `a` to the output highlighted.

Run: python examples/first_graph.py [out.svg|out.png|out.pdf|out.dot]
"""

import sys

import graphviz

from tinygrad_iris import Value, draw_graph, render_graph


def first_graph() -> graphviz.Digraph:
    a = Value(-3.0, name="a")
    b = Value(2.0, name="b")
    c = (a * b + b**3).relu() + a / b
    c.name = "c"
    c.backward()
    # a graphviz.Digraph: it shows inline in Jupyter, and .source is its DOT text
    return draw_graph(c, highlight=a)


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "first-graph.svg"
    path = render_graph(first_graph(), out)
    print(f"wrote {path}")
