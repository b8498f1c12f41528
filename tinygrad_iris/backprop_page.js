// The step-by-step page (backprop_page.py): plays the recorded steps of backward() on the drawing.
// State is one number, the steps done; every change redraws from the data, so "Previous step"
// undoes exactly one step. Pan and zoom move each drawing's viewBox.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("backprop-data").textContent);
  const steps = data.steps;
  const $ = (id) => document.getElementById(id);
  const previous = $("previous"), next = $("next"), reset = $("reset"), play = $("play");
  const speed = $("speed"), viewMenu = $("view"), follow = $("follow");
  const status = $("status"), counter = $("counter"), watch = $("watch");
  const views = Array.from(document.querySelectorAll(".view"));
  const READABLE = 1.1; // screen pixels per drawing unit (point) when following: 10 pt text at 11 px
  const MOST = 1.6; // the largest a drawing is shown to fit

  const nodes = new Map(); // node number -> its <g> in every view
  for (const g of document.querySelectorAll("g.node[data-node]")) {
    const k = Number(g.dataset.node);
    if (!nodes.has(k)) nodes.set(k, []);
    nodes.get(k).push(g);
  }
  const edges = new Map(); // "from>to" -> its <g>s
  for (const g of document.querySelectorAll("g.edge[data-from]")) {
    const key = g.dataset.from + ">" + g.dataset.to;
    if (!edges.has(key)) edges.set(key, []);
    edges.get(key).push(g);
  }

  let done = 0; // steps done
  let timer = null;

  // A gradient's lines go onto the node's grad lines (an array's preview may have several); its
  // data-grad is the text on one line.
  function showGrad(k, text) {
    const lines = text === "" ? [] : text.split("\n");
    for (const g of nodes.get(k) || []) {
      g.dataset.grad = lines.join(" ");
      const places = Array.from(g.querySelectorAll("text.grad, text.grad-more"));
      places.forEach((place, i) => {
        const mine = i === places.length - 1 ? lines.slice(i).join(" ") : lines[i] || "";
        place.textContent = i === 0 ? ("grad " + mine).trimEnd() : mine;
      });
    }
  }

  function mark(k, name) {
    for (const g of nodes.get(k) || []) g.classList.add(name);
  }

  function render() {
    const grads = new Map([[data.root, data.seed]]);
    const sums = new Map();
    for (let s = 0; s < done; s++) {
      for (const [k, text, sum] of steps[s].updates) {
        grads.set(k, text);
        sums.set(k, sum);
      }
    }
    for (const k of nodes.keys()) showGrad(k, grads.has(k) ? grads.get(k) : "");
    for (const g of document.querySelectorAll("g.node.current, g.node.reached")) g.classList.remove("current", "reached");
    for (const g of document.querySelectorAll("g.edge.flow")) g.classList.remove("flow");
    if (done === 0) {
      status.textContent = data.start;
    } else {
      const step = steps[done - 1];
      mark(step.node, "current");
      for (const [k] of step.updates) {
        mark(k, "reached");
        for (const g of edges.get(k + ">" + step.node) || []) g.classList.add("flow");
      }
      status.textContent = "Step " + done + " of " + steps.length + ": " + step.text;
    }
    counter.textContent = "step " + done + " of " + steps.length;
    previous.disabled = done === 0;
    next.disabled = done === steps.length;
    const lines = data.watch.map(([k, name]) => {
      const line = document.createElement("div");
      line.textContent = name + "'s gradient: " + (sums.has(k) ? sums.get(k) : "not computed yet");
      return line;
    });
    const watched = new Set(data.watch.map(([k]) => k));
    if (done > 0) {
      for (const [k, , sum, parts, name] of steps[done - 1].updates) {
        if (parts > 1 && !watched.has(k)) {
          const line = document.createElement("div");
          line.className = "meet";
          line.textContent = "Gradients meet at " + name + ": " + sum;
          lines.push(line);
        }
      }
    }
    watch.replaceChildren(...lines);
    if (done > 0 && follow.checked) centre(steps[done - 1].node);
  }

  function go(to) {
    done = Math.max(0, Math.min(steps.length, to));
    render();
  }

  function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    play.textContent = "Play";
    play.setAttribute("aria-pressed", "false");
  }

  function start() {
    if (done === steps.length) go(0);
    play.textContent = "Pause";
    play.setAttribute("aria-pressed", "true");
    timer = setInterval(() => {
      go(done + 1);
      if (done === steps.length) stop();
    }, Number(speed.value));
  }

  previous.addEventListener("click", () => { stop(); go(done - 1); });
  next.addEventListener("click", () => { stop(); go(done + 1); });
  reset.addEventListener("click", () => { stop(); go(0); });
  play.addEventListener("click", () => (timer === null ? start() : stop()));
  speed.addEventListener("change", () => { if (timer !== null) { stop(); start(); } });
  document.addEventListener("keydown", (event) => {
    const tag = event.target && event.target.tagName;
    if (tag === "SELECT" || tag === "INPUT" || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "ArrowRight") { stop(); go(done + 1); event.preventDefault(); }
    if (event.key === "ArrowLeft") { stop(); go(done - 1); event.preventDefault(); }
  });

  // ----- pan and zoom: each drawing's viewBox ------------------------------------------------
  function visible() {
    return views.find((view) => !view.hidden).querySelector("svg");
  }
  const whole = new Map(views.map((view) => {
    const svg = view.querySelector("svg");
    const box = svg.viewBox.baseVal;
    return [svg, { x: box.x, y: box.y, w: box.width, h: box.height }];
  }));
  function box(svg) {
    const b = svg.viewBox.baseVal;
    return { x: b.x, y: b.y, w: b.width, h: b.height };
  }
  function setBox(svg, b) {
    svg.setAttribute("viewBox", b.x + " " + b.y + " " + b.w + " " + b.h);
  }
  function pixelsPerUnit(svg, b) {
    return Math.min(svg.clientWidth / b.w, svg.clientHeight / b.h);
  }
  // The whole drawing, but a small one no larger than MOST pixels per unit.
  function fitBox(svg) {
    const b = whole.get(svg), f = pixelsPerUnit(svg, b) / MOST;
    if (!(f > 1)) return b;
    return { x: b.x + b.w / 2 - (b.w * f) / 2, y: b.y + b.h / 2 - (b.h * f) / 2, w: b.w * f, h: b.h * f };
  }
  function zoomAt(svg, factor, px, py) {
    const b = box(svg), all = whole.get(svg);
    const w = Math.min(Math.max(b.w / factor, all.w / 200), all.w * 4);
    const f = b.w / w;
    setBox(svg, { x: px - (px - b.x) / f, y: py - (py - b.y) / f, w: w, h: b.h / f });
  }
  function zoomCentre(factor) {
    const svg = visible(), b = box(svg);
    zoomAt(svg, factor, b.x + b.w / 2, b.y + b.h / 2);
  }
  // A node's middle in viewBox units: its box in the graph's own units, moved as the graph is.
  function middle(svg, g) {
    const r = g.getBBox();
    const m = svg.querySelector("g.graph").transform.baseVal.consolidate();
    const x = r.x + r.width / 2, y = r.y + r.height / 2;
    if (!m) return { x: x, y: y };
    const t = m.matrix;
    return { x: t.a * x + t.c * y + t.e, y: t.b * x + t.d * y + t.f };
  }
  function centre(k) {
    const svg = visible();
    const g = (nodes.get(k) || []).find((each) => svg.contains(each));
    if (!g || !svg.clientWidth) return; // a node this view does not draw: the view stays
    let b = box(svg);
    const scale = pixelsPerUnit(svg, b);
    if (scale < READABLE) {
      const f = scale / READABLE;
      b = { x: b.x, y: b.y, w: b.w * f, h: b.h * f };
    }
    const p = middle(svg, g);
    setBox(svg, { x: p.x - b.w / 2, y: p.y - b.h / 2, w: b.w, h: b.h });
  }
  for (const svg of whole.keys()) {
    svg.addEventListener("wheel", (event) => {
      event.preventDefault();
      const point = svg.createSVGPoint();
      point.x = event.clientX;
      point.y = event.clientY;
      const p = point.matrixTransform(svg.getScreenCTM().inverse());
      zoomAt(svg, Math.exp(-event.deltaY * 0.0015), p.x, p.y);
    }, { passive: false });
    let drag = null;
    svg.addEventListener("pointerdown", (event) => {
      drag = { x: event.clientX, y: event.clientY, box: box(svg) };
      svg.setPointerCapture(event.pointerId);
      svg.classList.add("dragging");
    });
    svg.addEventListener("pointermove", (event) => {
      if (!drag) return;
      const units = 1 / pixelsPerUnit(svg, drag.box);
      setBox(svg, { x: drag.box.x - (event.clientX - drag.x) * units, y: drag.box.y - (event.clientY - drag.y) * units,
                    w: drag.box.w, h: drag.box.h });
    });
    const end = () => { drag = null; svg.classList.remove("dragging"); };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
  }
  $("zoom-in").addEventListener("click", () => zoomCentre(1.25));
  $("zoom-out").addEventListener("click", () => zoomCentre(0.8));
  $("fit").addEventListener("click", () => { const svg = visible(); setBox(svg, fitBox(svg)); });
  // A view is chosen: show it, then (following) at a readable size on the current node, or on
  // the node it is drawn from before the first step.
  viewMenu.addEventListener("change", () => {
    views.forEach((view, k) => { view.hidden = String(k) !== viewMenu.value; });
    setBox(visible(), fitBox(visible()));
    render();
    if (follow.checked) centre(done > 0 ? steps[done - 1].node : data.views[Number(viewMenu.value)]);
  });

  setBox(visible(), fitBox(visible()));
  render();
}());
