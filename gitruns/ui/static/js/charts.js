// Line charts on uPlot (vendored, global `uPlot`): one or several runs' series of a
// metric, x = step, elapsed time or wall-clock time, optional smoothing and log scale.
// Dragging across a chart zooms into that range (double-click resets); a zoom asks the
// server for that part of a long series at full detail.

import { h, clear, fmtNumber, fmtDuration } from "./dom.js";

export const X_MODES = { step: "step", elapsed: "elapsed time", wall: "time" };

// TensorBoard's smoothing: an exponential moving average, debiased at the start.
export function smooth(values, weight) {
  const out = new Array(values.length);
  let last = 0, norm = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) { out[i] = v; continue; }
    last = last * weight + (1 - weight) * v;
    norm = norm * weight + (1 - weight);
    out[i] = last / norm;
  }
  return out;
}

function fade(color, alpha) {
  const n = parseInt(color.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

function xOf(series, mode, startMs) {
  if (mode === "step") return series.step;
  if (mode === "wall") return series.time.map((t) => t / 1000);
  return series.time.map((t) => (t - startMs) / 1000);
}

function ascending(x, y) {
  for (let i = 1; i < x.length; i++) {
    if (x[i] < x[i - 1]) {
      const order = x.map((_, j) => j).sort((a, b) => x[a] - x[b]);
      return [order.map((j) => x[j]), order.map((j) => y[j])];
    }
  }
  return [x, y];
}

function dedupe(x, y) {
  // uPlot needs distinct x per table: keep the last value logged at an x.
  const xs = [], ys = [];
  for (let i = 0; i < x.length; i++) {
    if (xs.length && xs[xs.length - 1] === x[i]) ys[ys.length - 1] = y[i];
    else { xs.push(x[i]); ys.push(y[i]); }
  }
  return [xs, ys];
}

// lines: [{label, color, series: {step, time, value}, startMs}]
export function chartData(lines, view) {
  const tables = [], opts = [];
  for (const line of lines) {
    if (!line.series) continue;
    let y = line.series.value;
    if (view.log) y = y.map((v) => (v !== null && v > 0 ? v : null));
    let [x, ys] = ascending(xOf(line.series, view.x, line.startMs), y);
    [x, ys] = dedupe(x, ys);
    if (view.smooth > 0) {
      tables.push([x, ys, smooth(ys, view.smooth)]);
      opts.push({ label: `${line.label} (raw)`, stroke: fade(line.color, 0.28), width: 1, raw: true });
      opts.push({ label: line.label, stroke: line.color, width: 2 });
    } else {
      tables.push([x, ys]);
      opts.push({ label: line.label, stroke: line.color, width: 1.5 });
    }
  }
  if (!tables.length) return { data: [[]], opts };
  const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
  return { data, opts };
}

function xAxis(mode) {
  if (mode === "wall") return { space: 80 };
  if (mode === "elapsed") return { space: 60, values: (u, splits) => splits.map((v) => fmtDuration(v)) };
  return { space: 60, values: (u, splits) => splits.map((v) => fmtNumber(v)) };
}

// A chart in `container`. `onZoom(minX, maxX)` is called (debounced) after a zoom on the
// step axis, and with nulls when the zoom is reset.
export class LineChart {
  constructor(container, { title, lines, view, height = 220, onZoom = null }) {
    this.container = container;
    this.title = title;
    this.height = height;
    this.onZoom = onZoom;
    this.view = view;
    this.lines = lines;
    this.plot = null;
    this.zoomTimer = null;
    this.draw();
  }

  draw() {
    const { data, opts } = chartData(this.lines, this.view);
    const points = data.length > 1 ? data[0].length : 0;
    this.container.dataset.points = String(points);
    this.container.dataset.series = String(opts.filter((o) => !o.raw).length);
    const width = Math.max(240, this.container.clientWidth || 480);
    if (this.plot) this.plot.destroy();
    clear(this.container);
    if (!points) {
      this.container.append(h("div", { class: "chart-empty", text: `${this.title}: no points` }));
      this.plot = null;
      return;
    }
    const options = {
      title: this.title,
      width,
      height: this.height,
      scales: {
        x: { time: this.view.x === "wall" },
        y: this.view.log ? { distr: 3 } : {},
      },
      axes: [xAxis(this.view.x), { size: 60, values: (u, splits) => splits.map((v) => fmtNumber(v)) }],
      series: [
        { label: X_MODES[this.view.x], value: this.view.x === "elapsed" ? (u, v) => fmtDuration(v) : undefined },
        ...opts.map((o) => ({
          label: o.label,
          stroke: o.stroke,
          width: o.width,
          value: (u, v) => (v === null || v === undefined ? "" : fmtNumber(v)),
        })),
      ],
      legend: { show: this.lines.length > 1 || this.view.smooth > 0, live: true },
      cursor: { drag: { x: true, y: false }, sync: { key: "gitruns" } },
      hooks: { setScale: [(u, key) => this.scaled(u, key)] },
    };
    this.plot = new uPlot(options, data, this.container);
    this.plot.root.setAttribute("aria-label", this.title);
  }

  scaled(u, key) {
    if (key !== "x" || !this.onZoom || this.view.x !== "step") return;
    const xs = u.data[0];
    const full = u.scales.x.min <= xs[0] && u.scales.x.max >= xs[xs.length - 1];
    clearTimeout(this.zoomTimer);
    this.zoomTimer = setTimeout(() => {
      if (full) this.onZoom(null, null);
      else this.onZoom(Math.floor(u.scales.x.min), Math.ceil(u.scales.x.max));
    }, 250);
  }

  update(lines, keepZoom = false) {
    const scale = keepZoom && this.plot ? [this.plot.scales.x.min, this.plot.scales.x.max] : null;
    this.lines = lines;
    if (!this.plot) { this.draw(); return; }
    const { data, opts } = chartData(lines, this.view);
    if (data.length !== this.plot.data.length || opts.length !== this.plot.series.length - 1) {
      this.draw();
      return;
    }
    this.container.dataset.points = String(data.length > 1 ? data[0].length : 0);
    this.plot.setData(data, !scale);
    if (scale) this.plot.setScale("x", { min: scale[0], max: scale[1] });
  }

  setView(view) {
    this.view = view;
    this.draw();
  }

  resize() {
    if (this.plot) this.plot.setSize({ width: Math.max(240, this.container.clientWidth), height: this.height });
  }

  destroy() {
    if (this.plot) this.plot.destroy();
    this.plot = null;
  }
}

// Controls shared by every chart of a page: x axis, smoothing, log scale.
export function viewControls(view, onChange) {
  const xSelect = h("select", { "aria-label": "x axis", onchange: () => { view.x = xSelect.value; onChange(); } },
    Object.entries(X_MODES).map(([value, label]) => h("option", { value, selected: view.x === value }, `x: ${label}`)));
  const smoothInput = h("input", {
    type: "range", min: "0", max: "0.99", step: "0.01", value: String(view.smooth), "aria-label": "smoothing",
    oninput: () => { view.smooth = Number(smoothInput.value); smoothText.textContent = view.smooth.toFixed(2); onChange(); },
  });
  const smoothText = h("span", { class: "smooth-value", text: Number(view.smooth).toFixed(2) });
  const logBox = h("input", { type: "checkbox", checked: view.log, onchange: () => { view.log = logBox.checked; onChange(); } });
  return h("div", { class: "chart-controls" },
    xSelect,
    h("label", {}, "smoothing ", smoothInput, " ", smoothText),
    h("label", {}, logBox, " log scale"),
    h("span", { class: "hint", text: "drag to zoom, double-click to reset" }));
}
