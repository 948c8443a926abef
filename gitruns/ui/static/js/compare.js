// Compare runs: their curves overlaid, a table of every param/metric/tag that highlights
// what differs, and a parallel-coordinates view of the sweep (params -> a chosen metric).

import { h, append, clear, colorOf, fmtValue, section, statusBadge, runLink, errorBox } from "./dom.js";
import { viewControls } from "./charts.js";
import { ChartGrid } from "./metricgrid.js";
import { drawParallel, varyingParams } from "./parcoords.js";
import { readView, writeView } from "./runpage.js";

export class ComparePage {
  constructor(root, source, refs, options = {}) {
    this.root = root;
    this.source = source;
    this.refs = refs;
    this.options = options;
    const params = new URLSearchParams(location.search);
    this.view = options.view || readView(location.search);
    this.onlyChanged = params.get("all_rows") !== "1";
    this.metric = params.get("metric") || "";
    this.load();
  }

  destroy() {
    if (this.grid) this.grid.destroy();
  }

  async load() {
    try {
      this.data = await this.source.compare(this.refs);
    } catch (error) {
      clear(this.root).append(errorBox(error.error || error));
      return;
    }
    this.render();
  }

  render() {
    const { runs, metric_keys: keys } = this.data;
    const own = keys.filter((k) => !k.startsWith("system/"));
    if (!own.includes(this.metric)) this.metric = own[0] || keys[0] || "";
    const legend = h("ul", { class: "legend" }, runs.map((run, i) => h("li", {},
      h("span", { class: "swatch", style: { background: colorOf(i) } }), runLink(run), " ", statusBadge(run.status))));
    const chartsBody = h("div", {});
    const startOf = new Map(runs.map((r) => [r.id, Date.parse(r.start_time)]));
    const fetchLines = async (wanted, span) => {
      const found = new Map();
      const opts = span ? { min_step: span[0], max_step: span[1] } : {};
      await Promise.all(wanted.map(async (key) => {
        const data = await this.source.overlay(runs, key, opts);
        found.set(key, data.runs.map((entry, i) => ({ label: runs[i].name, color: colorOf(i), series: entry.series, startMs: startOf.get(entry.id) })));
      }));
      return found;
    };
    const controls = viewControls(this.view, () => { this.grid.redraw(); if (!this.options.embedded) writeView(this.view); });
    const parallel = h("div", { class: "parallel", id: "parallel" });
    const metricSelect = h("select", { "aria-label": "metric", onchange: () => { this.metric = metricSelect.value; this.saveParam("metric", this.metric); drawParallel(parallel, runs, this.metric); } },
      keys.map((k) => h("option", { value: k, selected: k === this.metric }, k)));
    const table = h("div", {});
    const only = h("input", { type: "checkbox", checked: this.onlyChanged, onchange: () => { this.onlyChanged = only.checked; this.saveParam("all_rows", only.checked ? "" : "1"); this.renderTable(table); } });
    append(clear(this.root), [
      h("h1", { text: `Compare ${runs.length} runs` }), legend,
      section("curves", "Metrics, overlaid", controls, chartsBody),
      varyingParams(runs).length ? section("sweep", "Parallel coordinates", h("label", {}, "metric ", metricSelect), parallel) : null,
      section("differences", "Side by side", h("label", {}, only, " only what differs"), table)]);
    this.grid = new ChartGrid(chartsBody, keys, this.view, fetchLines);
    this.renderTable(table);
    if (varyingParams(runs).length) requestAnimationFrame(() => drawParallel(parallel, runs, this.metric));
  }

  saveParam(name, value) {
    if (this.options.embedded) return;
    const params = new URLSearchParams(location.search);
    value ? params.set(name, value) : params.delete(name);
    history.replaceState(null, "", `${location.pathname}?${params}`);
  }

  renderTable(container) {
    const { runs, rows } = this.data;
    const shown = rows.filter((r) => !this.onlyChanged || r.changed);
    const head = h("tr", {}, h("th", { text: "" }), h("th", { text: "" }), runs.map((run, i) => h("th", {}, h("span", { class: "swatch", style: { background: colorOf(i) } }), run.name)));
    const body = shown.map((row) => {
      const first = row.missing[0] ? undefined : JSON.stringify(row.values[0]);
      return h("tr", { class: row.changed ? "changed" : "" }, h("td", { class: "muted", text: row.section }), h("th", { class: "mono", text: row.key }),
        row.values.map((v, i) => h("td", {
          class: `mono${row.missing[i] ? " missing" : ""}${i > 0 && row.changed && JSON.stringify(v) !== first ? " differs" : ""}`,
          text: row.missing[i] ? "—" : fmtValue(v),
        })));
    });
    clear(container).append(h("table", { class: "compare", id: "compare-table" }, h("thead", {}, head), h("tbody", {}, body)));
    if (!shown.length) container.append(h("p", { class: "muted", text: "nothing differs" }));
  }
}
