"""The code cells of Karpathy's micrograd lecture, as the lecture notebooks have them.

Transcribed unchanged from karpathy/nn-zero-to-hero, lectures/micrograd/
micrograd_lecture_first_half_roughly.ipynb and micrograd_lecture_second_half_roughly.ipynb
(MIT License, Copyright (c) 2022 Andrej Karpathy). Left out: the cells that only plot
(matplotlib) or use PyTorch, and the notebooks' IPython magics. The cell that defines
``class Value`` is kept: `tests/test_micrograd_lecture.py` runs the lecture with it, and again
with ``from tinygrad_iris import Value`` in its place, and compares every Value.
"""

# fmt: off

FIRST_HALF = [
    'import math\nimport numpy as np\nimport matplotlib.pyplot as plt',
    'def f(x):\n  return 3*x**2 - 4*x + 5',
    'f(3.0)',
    'h = 0.000001\nx = 2/3\n(f(x + h) - f(x))/h',
    '# les get more complex\na = 2.0\nb = -3.0\nc = 10.0\nd = a*b + c\nprint(d)',
    "h = 0.0001\n\n# inputs\na = 2.0\nb = -3.0\nc = 10.0\n\nd1 = a*b + c\nc += h\nd2 = a*b + c\n\nprint('d1', d1)\nprint('d2', d2)\nprint('slope', (d2 - d1)/h)",
    'class Value:\n  \n  def __init__(self, data, _children=(), _op=\'\', label=\'\'):\n    self.data = data\n    self.grad = 0.0\n    self._backward = lambda: None\n    self._prev = set(_children)\n    self._op = _op\n    self.label = label\n\n  def __repr__(self):\n    return f"Value(data={self.data})"\n  \n  def __add__(self, other):\n    out = Value(self.data + other.data, (self, other), \'+\')\n    \n    def _backward():\n      self.grad += 1.0 * out.grad\n      other.grad += 1.0 * out.grad\n    out._backward = _backward\n    \n    return out\n\n  def __mul__(self, other):\n    out = Value(self.data * other.data, (self, other), \'*\')\n    \n    def _backward():\n      self.grad += other.data * out.grad\n      other.grad += self.data * out.grad\n    out._backward = _backward\n      \n    return out\n  \n  def tanh(self):\n    x = self.data\n    t = (math.exp(2*x) - 1)/(math.exp(2*x) + 1)\n    out = Value(t, (self, ), \'tanh\')\n    \n    def _backward():\n      self.grad += (1 - t**2) * out.grad\n    out._backward = _backward\n    \n    return out\n  \n  def backward(self):\n    \n    topo = []\n    visited = set()\n    def build_topo(v):\n      if v not in visited:\n        visited.add(v)\n        for child in v._prev:\n          build_topo(child)\n        topo.append(v)\n    build_topo(self)\n    \n    self.grad = 1.0\n    for node in reversed(topo):\n      node._backward()\n\n\na = Value(2.0, label=\'a\')\nb = Value(-3.0, label=\'b\')\nc = Value(10.0, label=\'c\')\ne = a*b; e.label = \'e\'\nd = e + c; d.label = \'d\'\nf = Value(-2.0, label=\'f\')\nL = d * f; L.label = \'L\'\nL',
    'from graphviz import Digraph\n\ndef trace(root):\n  # builds a set of all nodes and edges in a graph\n  nodes, edges = set(), set()\n  def build(v):\n    if v not in nodes:\n      nodes.add(v)\n      for child in v._prev:\n        edges.add((child, v))\n        build(child)\n  build(root)\n  return nodes, edges\n\ndef draw_dot(root):\n  dot = Digraph(format=\'svg\', graph_attr={\'rankdir\': \'LR\'}) # LR = left to right\n  \n  nodes, edges = trace(root)\n  for n in nodes:\n    uid = str(id(n))\n    # for any value in the graph, create a rectangular (\'record\') node for it\n    dot.node(name = uid, label = "{ %s | data %.4f | grad %.4f }" % (n.label, n.data, n.grad), shape=\'record\')\n    if n._op:\n      # if this value is a result of some operation, create an op node for it\n      dot.node(name = uid + n._op, label = n._op)\n      # and connect this node to it\n      dot.edge(uid + n._op, uid)\n\n  for n1, n2 in edges:\n    # connect n1 to the op node of n2\n    dot.edge(str(id(n1)), str(id(n2)) + n2._op)\n\n  return dot',
    'draw_dot(L)',
    'a.data += 0.01 * a.grad\nb.data += 0.01 * b.grad\nc.data += 0.01 * c.grad\nf.data += 0.01 * f.grad\n\ne = a * b\nd = e + c\nL = d * f\n\nprint(L.data)',
    "def lol():\n  \n  h = 0.001\n  \n  a = Value(2.0, label='a')\n  b = Value(-3.0, label='b')\n  c = Value(10.0, label='c')\n  e = a*b; e.label = 'e'\n  d = e + c; d.label = 'd'\n  f = Value(-2.0, label='f')\n  L = d * f; L.label = 'L'\n  L1 = L.data\n  \n  a = Value(2.0, label='a')\n  b = Value(-3.0, label='b')\n  b.data += h\n  c = Value(10.0, label='c')\n  e = a*b; e.label = 'e'\n  d = e + c; d.label = 'd'\n  f = Value(-2.0, label='f')\n  L = d * f; L.label = 'L'\n  L2 = L.data\n  \n  print((L2 - L1)/h)\n  \nlol()",
    "# inputs x1,x2\nx1 = Value(2.0, label='x1')\nx2 = Value(0.0, label='x2')\n# weights w1,w2\nw1 = Value(-3.0, label='w1')\nw2 = Value(1.0, label='w2')\n# bias of the neuron\nb = Value(6.8813735870195432, label='b')\n# x1*w1 + x2*w2 + b\nx1w1 = x1*w1; x1w1.label = 'x1*w1'\nx2w2 = x2*w2; x2w2.label = 'x2*w2'\nx1w1x2w2 = x1w1 + x2w2; x1w1x2w2.label = 'x1*w1 + x2*w2'\nn = x1w1x2w2 + b; n.label = 'n'\no = n.tanh(); o.label = 'o'",
    'draw_dot(o)',
    'o.backward()',
    'topo = []\nvisited = set()\ndef build_topo(v):\n  if v not in visited:\n    visited.add(v)\n    for child in v._prev:\n      build_topo(child)\n    topo.append(v)\nbuild_topo(o)\ntopo',
    'o.grad = 1.0',
    'o._backward()',
    'n._backward()',
    'b._backward()',
    'x1w1x2w2._backward()',
    'x2w2._backward()\nx1w1._backward()',
    'x1.grad = w1.data * x1w1.grad\nw1.grad = x1.data * x1w1.grad',
    'x2.grad = w2.data * x2w2.grad\nw2.grad = x2.data * x2w2.grad',
    'x1w1.grad = 0.5\nx2w2.grad = 0.5',
    'x1w1x2w2.grad = 0.5\nb.grad = 0.5',
    'n.grad = 0.5',
    'o.grad = 1.0',
    '1 - o.data**2',
    '# o = tanh(n)\n# do/dn = 1 - o**2',
    "a = Value(3.0, label='a')\nb = a + a   ; b.label = 'b'\nb.backward()\ndraw_dot(b)",
    "a = Value(-2.0, label='a')\nb = Value(3.0, label='b')\nd = a * b    ; d.label = 'd'\ne = a + b    ; e.label = 'e'\nf = d * e    ; f.label = 'f'\n\nf.backward()\n\ndraw_dot(f)",
]

SECOND_HALF = [
    'import math\nimport random\nimport numpy as np\nimport matplotlib.pyplot as plt',
    'def f(x):\n  return 3*x**2 - 4*x + 5',
    'f(3.0)',
    'h = 0.000001\nx = 2/3\n(f(x + h) - f(x))/h',
    '# les get more complex\na = 2.0\nb = -3.0\nc = 10.0\nd = a*b + c\nprint(d)',
    "h = 0.0001\n\n# inputs\na = 2.0\nb = -3.0\nc = 10.0\n\nd1 = a*b + c\nc += h\nd2 = a*b + c\n\nprint('d1', d1)\nprint('d2', d2)\nprint('slope', (d2 - d1)/h)",
    'class Value:\n  \n  def __init__(self, data, _children=(), _op=\'\', label=\'\'):\n    self.data = data\n    self.grad = 0.0\n    self._backward = lambda: None\n    self._prev = set(_children)\n    self._op = _op\n    self.label = label\n\n  def __repr__(self):\n    return f"Value(data={self.data})"\n  \n  def __add__(self, other):\n    other = other if isinstance(other, Value) else Value(other)\n    out = Value(self.data + other.data, (self, other), \'+\')\n    \n    def _backward():\n      self.grad += 1.0 * out.grad\n      other.grad += 1.0 * out.grad\n    out._backward = _backward\n    \n    return out\n\n  def __mul__(self, other):\n    other = other if isinstance(other, Value) else Value(other)\n    out = Value(self.data * other.data, (self, other), \'*\')\n    \n    def _backward():\n      self.grad += other.data * out.grad\n      other.grad += self.data * out.grad\n    out._backward = _backward\n      \n    return out\n  \n  def __pow__(self, other):\n    assert isinstance(other, (int, float)), "only supporting int/float powers for now"\n    out = Value(self.data**other, (self,), f\'**{other}\')\n\n    def _backward():\n        self.grad += other * (self.data ** (other - 1)) * out.grad\n    out._backward = _backward\n\n    return out\n  \n  def __rmul__(self, other): # other * self\n    return self * other\n\n  def __truediv__(self, other): # self / other\n    return self * other**-1\n\n  def __neg__(self): # -self\n    return self * -1\n\n  def __sub__(self, other): # self - other\n    return self + (-other)\n\n  def __radd__(self, other): # other + self\n    return self + other\n\n  def tanh(self):\n    x = self.data\n    t = (math.exp(2*x) - 1)/(math.exp(2*x) + 1)\n    out = Value(t, (self, ), \'tanh\')\n    \n    def _backward():\n      self.grad += (1 - t**2) * out.grad\n    out._backward = _backward\n    \n    return out\n  \n  def exp(self):\n    x = self.data\n    out = Value(math.exp(x), (self, ), \'exp\')\n    \n    def _backward():\n      self.grad += out.data * out.grad # NOTE: in the video I incorrectly used = instead of +=. Fixed here.\n    out._backward = _backward\n    \n    return out\n  \n  \n  def backward(self):\n    \n    topo = []\n    visited = set()\n    def build_topo(v):\n      if v not in visited:\n        visited.add(v)\n        for child in v._prev:\n          build_topo(child)\n        topo.append(v)\n    build_topo(self)\n    \n    self.grad = 1.0\n    for node in reversed(topo):\n      node._backward()\n',
    'from graphviz import Digraph\n\ndef trace(root):\n  # builds a set of all nodes and edges in a graph\n  nodes, edges = set(), set()\n  def build(v):\n    if v not in nodes:\n      nodes.add(v)\n      for child in v._prev:\n        edges.add((child, v))\n        build(child)\n  build(root)\n  return nodes, edges\n\ndef draw_dot(root):\n  dot = Digraph(format=\'svg\', graph_attr={\'rankdir\': \'LR\'}) # LR = left to right\n  \n  nodes, edges = trace(root)\n  for n in nodes:\n    uid = str(id(n))\n    # for any value in the graph, create a rectangular (\'record\') node for it\n    dot.node(name = uid, label = "{ %s | data %.4f | grad %.4f }" % (n.label, n.data, n.grad), shape=\'record\')\n    if n._op:\n      # if this value is a result of some operation, create an op node for it\n      dot.node(name = uid + n._op, label = n._op)\n      # and connect this node to it\n      dot.edge(uid + n._op, uid)\n\n  for n1, n2 in edges:\n    # connect n1 to the op node of n2\n    dot.edge(str(id(n1)), str(id(n2)) + n2._op)\n\n  return dot',
    "# inputs x1,x2\nx1 = Value(2.0, label='x1')\nx2 = Value(0.0, label='x2')\n# weights w1,w2\nw1 = Value(-3.0, label='w1')\nw2 = Value(1.0, label='w2')\n# bias of the neuron\nb = Value(6.8813735870195432, label='b')\n# x1*w1 + x2*w2 + b\nx1w1 = x1*w1; x1w1.label = 'x1*w1'\nx2w2 = x2*w2; x2w2.label = 'x2*w2'\nx1w1x2w2 = x1w1 + x2w2; x1w1x2w2.label = 'x1*w1 + x2*w2'\nn = x1w1x2w2 + b; n.label = 'n'\no = n.tanh(); o.label = 'o'\no.backward()",
    'draw_dot(o)',
    "# inputs x1,x2\nx1 = Value(2.0, label='x1')\nx2 = Value(0.0, label='x2')\n# weights w1,w2\nw1 = Value(-3.0, label='w1')\nw2 = Value(1.0, label='w2')\n# bias of the neuron\nb = Value(6.8813735870195432, label='b')\n# x1*w1 + x2*w2 + b\nx1w1 = x1*w1; x1w1.label = 'x1*w1'\nx2w2 = x2*w2; x2w2.label = 'x2*w2'\nx1w1x2w2 = x1w1 + x2w2; x1w1x2w2.label = 'x1*w1 + x2*w2'\nn = x1w1x2w2 + b; n.label = 'n'\n# ----\ne = (2*n).exp()\no = (e - 1) / (e + 1)\n# ----\no.label = 'o'\no.backward()\ndraw_dot(o)",
    '\nclass Neuron:\n  \n  def __init__(self, nin):\n    self.w = [Value(random.uniform(-1,1)) for _ in range(nin)]\n    self.b = Value(random.uniform(-1,1))\n  \n  def __call__(self, x):\n    # w * x + b\n    act = sum((wi*xi for wi, xi in zip(self.w, x)), self.b)\n    out = act.tanh()\n    return out\n  \n  def parameters(self):\n    return self.w + [self.b]\n\nclass Layer:\n  \n  def __init__(self, nin, nout):\n    self.neurons = [Neuron(nin) for _ in range(nout)]\n  \n  def __call__(self, x):\n    outs = [n(x) for n in self.neurons]\n    return outs[0] if len(outs) == 1 else outs\n  \n  def parameters(self):\n    return [p for neuron in self.neurons for p in neuron.parameters()]\n\nclass MLP:\n  \n  def __init__(self, nin, nouts):\n    sz = [nin] + nouts\n    self.layers = [Layer(sz[i], sz[i+1]) for i in range(len(nouts))]\n  \n  def __call__(self, x):\n    for layer in self.layers:\n      x = layer(x)\n    return x\n  \n  def parameters(self):\n    return [p for layer in self.layers for p in layer.parameters()]',
    'x = [2.0, 3.0, -1.0]\nn = MLP(3, [4, 4, 1])\nn(x)',
    'xs = [\n  [2.0, 3.0, -1.0],\n  [3.0, -1.0, 0.5],\n  [0.5, 1.0, 1.0],\n  [1.0, 1.0, -1.0],\n]\nys = [1.0, -1.0, -1.0, 1.0] # desired targets',
    '\nfor k in range(20):\n  \n  # forward pass\n  ypred = [n(x) for x in xs]\n  loss = sum((yout - ygt)**2 for ygt, yout in zip(ys, ypred))\n  \n  # backward pass\n  for p in n.parameters():\n    p.grad = 0.0\n  loss.backward()\n  \n  # update\n  for p in n.parameters():\n    p.data += -0.1 * p.grad\n  \n  print(k, loss.data)\n  ',
    'ypred',
]
