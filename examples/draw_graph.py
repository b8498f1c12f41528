"""Draw the articles' three-row graph at b3 = -2, every path from b3 to the loss pink.

b3 reaches each row's loss through that row's raw Setosa output, so backward() gives
b3 the sum of the three raw Setosa nodes' gradients, each p_setosa - [species is
Setosa]. This prints that sum row by row, then writes the drawing (SVG, PNG, PDF or
DOT, from the file's extension).

Run: python examples/draw_graph.py [graph.svg]
"""

import sys

from tinygrad_iris import render_graph
from tinygrad_iris.article_graph import article_graph, build_article_graph

if __name__ == "__main__":
    graph = build_article_graph(b3=-2.0)
    for label, row in zip(graph.labels, graph.rows):
        p_setosa, setosa = row.probabilities.data[0], int(row.species == "Setosa")
        terms = f"p_setosa {p_setosa:.4f} - {setosa}"
        print(f"{label}: {terms} = raw Setosa grad {row.raw[0].grad:.4f}")
    print(f"b3.grad = {graph.net.b3.grad:.4f}")
    out = sys.argv[1] if len(sys.argv) > 1 else "graph.svg"
    path = render_graph(article_graph(b3=-2.0), out)
    print(f"wrote {path}")
