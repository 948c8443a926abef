// A grid of metric charts that load as they scroll into view, in batches, and refresh
// while a run is live. `fetchLines(keys, span)` resolves to Map(key -> lines) where a
// line is {label, color, series, startMs} (see charts.js).

import { h, clear } from "./dom.js";
import { LineChart } from "./charts.js";

const BATCH = 6;

export class ChartGrid {
  constructor(container, keys, view, fetchLines) {
    this.container = container;
    this.view = view;
    this.fetchLines = fetchLines;
    this.charts = new Map();
    this.lines = new Map();
    this.wanted = new Set();
    this.scheduled = false;
    this.keys = [];
    // one observer for the whole grid: the charts that come into view together are
    // fetched together
    this.observer = "IntersectionObserver" in window ? new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        this.observer.unobserve(entry.target);
        this.want(entry.target.dataset.key);
      }
    }, { rootMargin: "200px" }) : null;
    clear(container);
    this.grid = h("div", { class: "chart-grid" });
    container.append(this.grid);
    this.setKeys(keys);
  }

  setKeys(keys) {
    for (const key of keys) {
      if (this.keys.includes(key)) continue;
      this.keys.push(key);
      const box = h("div", { class: "chart", "data-key": key }, h("div", { class: "chart-loading", text: key }));
      this.grid.append(box);
      if (this.observer) this.observer.observe(box); else this.want(key);
    }
  }

  want(key) {
    this.wanted.add(key);
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => this.loadWanted(), 0);
  }

  // Batches of a few series, two requests at a time: the first charts are drawn while the
  // server reads the next ones.
  async loadWanted() {
    this.scheduled = false;
    const keys = [...this.wanted].filter((k) => !this.lines.has(k));
    this.wanted.clear();
    const batches = [];
    for (let i = 0; i < keys.length; i += BATCH) batches.push(keys.slice(i, i + BATCH));
    const worker = async () => { while (batches.length) await this.load(batches.shift()); };
    await Promise.all([worker(), worker()]);
  }

  async load(keys, refresh = false) {
    let found;
    try {
      found = await this.fetchLines(keys, null);
    } catch (error) {
      for (const key of keys) this.boxOf(key).replaceChildren(h("div", { class: "chart-empty", text: `${key}: ${error.message}` }));
      return;
    }
    for (const key of keys) {
      const lines = found.get(key) || [];
      this.lines.set(key, lines);
      const chart = this.charts.get(key);
      if (chart) chart.update(lines, refresh);
      else this.charts.set(key, new LineChart(this.boxOf(key), {
        title: key, lines, view: this.view, onZoom: (min, max) => this.zoomed(key, min, max),
      }));
    }
    // for bench/bench_ui.py: when each batch of charts was drawn, and how many there are
    performance.mark("gitruns:charts", { detail: this.charts.size });
  }

  boxOf(key) {
    return [...this.grid.children].find((n) => n.dataset.key === key);
  }

  async zoomed(key, min, max) {
    const chart = this.charts.get(key);
    const lines = this.lines.get(key) || [];
    if (!chart || !lines.some((l) => l.series && l.series.downsampled)) return;
    if (min === null) { chart.update(lines, false); return; }
    const found = await this.fetchLines([key], [min, max]);
    chart.update(found.get(key) || lines, true);
  }

  // A live run: fetch again every chart already drawn (and the new keys it logged).
  async refresh(keys) {
    this.setKeys(keys);
    const loaded = [...this.lines.keys()];
    for (let i = 0; i < loaded.length; i += BATCH) await this.load(loaded.slice(i, i + BATCH), true);
  }

  redraw() {
    for (const chart of this.charts.values()) chart.setView(this.view);
  }

  // Leaving the page: charts share a cursor-sync group, which must not keep old ones.
  destroy() {
    if (this.observer) this.observer.disconnect();
    for (const chart of this.charts.values()) chart.destroy();
    this.charts.clear();
  }
}
