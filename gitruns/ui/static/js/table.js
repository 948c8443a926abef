// The runs table: gitruns ls in a page. Filter (with the caret error of the filter
// language), sort by any column, pick columns, group rows, select runs to compare.
// The URL holds the state (?filter=&sort=&cols=&group=&all=), so a view can be bookmarked.
// Rows are drawn only where the viewport is: 10,000 runs stay fast.

import { h, clear, fmtDuration, fmtTime, fmtValue, shortId, statusBadge, debounce, errorBox } from "./dom.js";
import { refOf } from "./source.js";

const ROW_HEIGHT = 30;
const ATTRIBUTES = ["id", "name", "experiment", "status", "user", "host", "branch", "commit", "start_time", "end_time", "duration", "origin"];
const HEADERS = { start_time: "start", end_time: "end" };
const PLAIN = /^[A-Za-z0-9_\/-]+$/;
const SCALARS = ["id", "origin", "name", "experiment", "status", "user", "host", "start_time", "end_time", "duration", "branch", "commit", "params", "metrics", "tags"];
const TABLE_POLL_MS = 2000;
const AGG_INDEX = { last: 0, min: 1, max: 2, count: 3 };
const WIDTHS = { id: 90, name: 200, status: 96, start_time: 170, end_time: 170, duration: 84, commit: 110 };

export function cellValue(row, col) {
  if (col.ns === "attr") return row[col.key];
  if (col.ns === "params") return row.params[col.key];
  if (col.ns === "tags") return row.tags[col.key];
  const metrics = row.metrics;
  if (col.exact) {
    const summary = metrics[col.key];
    return summary ? summary[AGG_INDEX[col.agg || "last"]] : undefined;
  }
  if (metrics[col.key]) return metrics[col.key][0];
  const cut = col.key.lastIndexOf(".");
  const agg = cut > 0 ? col.key.slice(cut + 1) : null;
  if (agg in AGG_INDEX && metrics[col.key.slice(0, cut)]) return metrics[col.key.slice(0, cut)][AGG_INDEX[agg]];
  return undefined;
}

// The server sends columns of values (cheap to encode for 10,000 runs); rows are rebuilt here.
export function rowsOf(columns) {
  const n = columns.id.length;
  const rows = new Array(n);
  for (let i = 0; i < n; i++) {
    const row = {};
    for (const name of SCALARS) row[name] = columns[name][i];
    rows[i] = row;
  }
  return rows;
}

// A column's name in the filter language (gitruns.query.ast.Field.to_text).
function fieldText(ns, key) {
  if (ns === "attr") return key;
  const parts = key.split(".");
  const plain = parts.every((p) => PLAIN.test(p)) && !(ns === "metrics" && parts[parts.length - 1] in AGG_INDEX);
  return plain ? `${ns}.${key}` : `${ns}.\`${key.replace(/`/g, "``")}\``;
}

function columnOf(ns, key) {
  const text = fieldText(ns, key);
  const label = ns === "attr" ? HEADERS[key] || key : text;
  return { text, label, ns, key, agg: null, exact: ns === "metrics" };
}

function keysOf(rows, ns) {
  const keys = new Set();
  for (const row of rows) for (const key in row[ns]) keys.add(key);
  return [...keys].sort();
}

export function availableColumns(rows) {
  return [...ATTRIBUTES.map((key) => columnOf("attr", key)),
    ...["params", "metrics", "tags"].flatMap((ns) => keysOf(rows, ns).map((k) => columnOf(ns, k)))];
}

function cellNode(row, col) {
  const value = cellValue(row, col);
  if (col.ns === "attr") {
    if (col.key === "id") return h("a", { href: runHref(row), "data-nav": "1", class: "mono", text: shortId(value), title: value });
    if (col.key === "name") return h("a", { href: runHref(row), "data-nav": "1", text: value || "" });
    if (col.key === "status") return statusBadge(value);
    if (col.key === "start_time" || col.key === "end_time") return fmtTime(value);
    if (col.key === "duration") return fmtDuration(value);
    if (col.key === "commit") return h("span", { class: "mono", text: (value || "").slice(0, 10) });
  }
  return fmtValue(value);
}

function runHref(row) {
  const origin = row.origin && row.origin !== "local" ? `?origin=${encodeURIComponent(row.origin)}` : "";
  return `/run/${encodeURIComponent(row.id)}${origin}`;
}

export function readState(search) {
  const params = new URLSearchParams(search);
  return {
    filter: params.get("filter") || "",
    sort: params.getAll("sort"),
    cols: params.get("cols") ? splitColumns(params.get("cols")) : [],
    group: params.get("group") || "",
    all: params.get("all") === "1",
  };
}

function writeState(state) {
  const params = new URLSearchParams();
  if (state.filter) params.set("filter", state.filter);
  for (const key of state.sort) params.append("sort", key);
  if (state.cols.length) params.set("cols", state.cols.join(","));
  if (state.group) params.set("group", state.group);
  if (state.all) params.set("all", "1");
  const text = params.toString();
  return text ? `?${text}` : location.pathname;
}

// a,b,params.`x,y` -> commas inside backquotes belong to the name (as in gitruns ls -c)
export function splitColumns(text) {
  const parts = [];
  let current = "", quoted = false;
  for (const char of text) {
    if (char === "`") quoted = !quoted;
    if (char === "," && !quoted) { parts.push(current.trim()); current = ""; } else current += char;
  }
  parts.push(current.trim());
  return parts.filter(Boolean);
}

export class RunsTable {
  constructor(root, source, info) {
    this.root = root;
    this.source = source;
    this.info = info;
    this.state = readState(location.search);
    this.data = null;
    this.selected = new Set();
    this.collapsed = new Set();
    this.items = [];
    this.renders = 0;
    this.requestId = 0;
    this.build();
    this.load();
    this.timer = setInterval(() => this.poll(), TABLE_POLL_MS);
  }

  destroy() {
    clearInterval(this.timer);
  }

  build() {
    const state = this.state;
    this.filterInput = h("input", {
      id: "filter", class: "filter mono", type: "search", value: state.filter, spellcheck: "false",
      placeholder: 'filter: metrics.acc > 0.9 and params.lr = 0.01 and tags.model = "bert"',
      "aria-label": "filter",
      oninput: debounce(() => this.setFilter(), 300),
      onkeydown: (e) => { if (e.key === "Enter") this.setFilter(); },
    });
    this.errorSlot = h("div", { id: "filter-error" });
    this.groupSelect = h("select", { id: "group", "aria-label": "group by", onchange: () => { this.state.group = this.groupSelect.value; this.collapsed.clear(); this.pushState(); this.layout(); } });
    this.allBox = h("input", { type: "checkbox", checked: state.all, onchange: () => { this.state.all = this.allBox.checked; this.pushState(); this.load(); } });
    this.count = h("span", { id: "run-count", class: "count" });
    this.compareButton = h("button", { id: "compare", disabled: true, onclick: () => this.compare() }, "Compare");
    this.columnsPanel = h("div", { id: "columns-panel", class: "columns-panel", hidden: true });
    const columnsButton = h("button", { id: "columns-button", onclick: () => { this.columnsPanel.hidden = !this.columnsPanel.hidden; } }, "Columns");
    this.problems = h("div", { class: "problems" });
    this.head = h("div", { class: "grid-head", role: "row" });
    this.body = h("div", { class: "grid-body" });
    this.scroller = h("div", { class: "grid-scroll", id: "runs", role: "table", onscroll: () => this.renderWindow() }, this.head, this.body);
    clear(this.root).append(
      h("div", { class: "toolbar" }, this.filterInput, columnsButton, h("label", {}, "group by ", this.groupSelect),
        h("label", { title: "every copy of runs fetched from several remotes" }, this.allBox, " all copies"),
        this.count, this.compareButton),
      this.errorSlot, this.columnsPanel, this.problems, this.scroller);
    window.addEventListener("resize", () => this.renderWindow());
  }

  pushState() {
    history.replaceState(null, "", writeState(this.state));
  }

  setFilter() {
    const text = this.filterInput.value.trim();
    if (text === this.state.filter && !this.errorSlot.firstChild) return;
    this.state.filter = text;
    this.pushState();
    this.load();
  }

  async load(silent = false) {
    const id = ++this.requestId;
    const started = performance.now();
    try {
      const data = await this.source.runs({
        filter: this.state.filter, sort: this.state.sort,
        column: this.state.cols, all: this.state.all ? "1" : "",
      });
      if (id !== this.requestId) return;
      clear(this.errorSlot);
      this.filterInput.classList.remove("invalid");
      data.runs = rowsOf(data.runs);
      data.available = availableColumns(data.runs);
      this.data = data;
      this.layout();
      this.root.dataset.loadMs = String(Math.round(performance.now() - started));
    } catch (error) {
      if (id !== this.requestId) return;
      if (silent) return;
      clear(this.errorSlot).append(errorBox(error.error || error));
      this.filterInput.classList.add("invalid");
      this.root.dataset.renders = String(++this.renders);
    }
  }

  async poll() {
    if (document.hidden || !this.data) return;
    const running = this.data.runs.some((r) => r.status === "RUNNING");
    try {
      const { version } = await this.source.version();
      if (version !== this.data.version || running) await this.load(true);
    } catch (error) { /* the server stopped: keep what is shown */ }
  }

  layout() {
    const data = this.data;
    this.count.textContent = `${data.runs.length} run${data.runs.length === 1 ? "" : "s"}`;
    clear(this.problems);
    if (data.problems.length) {
      this.problems.append(h("details", {}, h("summary", { text: `${data.problems.length} invalid run(s) skipped` }),
        h("ul", {}, data.problems.map((p) => h("li", { class: "mono", text: `${p.ref}: ${p.why}` })))));
    }
    this.columns = data.columns;
    this.buildColumnsPanel();
    this.buildGroupSelect();
    this.items = this.groupItems();
    this.template = ["32px", ...this.columns.map((c) => `${WIDTHS[c.key] && c.ns === "attr" ? WIDTHS[c.key] : 130}px`)].join(" ");
    this.renderHead();
    this.body.style.height = `${this.items.length * ROW_HEIGHT}px`;
    this.body.style.width = this.head.style.width;
    this.rendered = null;
    this.renderWindow();
    this.root.dataset.renders = String(++this.renders);
    if (this.renders === 1 || !this.painted) {
      this.painted = true;
      requestAnimationFrame(() => performance.mark("gitruns:table-painted"));
    }
    this.updateCompareButton();
  }

  groupItems() {
    const runs = this.data.runs;
    const groupCol = this.state.group ? this.data.available.find((c) => c.text === this.state.group) : null;
    if (!groupCol) return runs.map((run) => ({ run }));
    const groups = new Map();
    for (const run of runs) {
      const value = fmtValue(cellValue(run, groupCol));
      if (!groups.has(value)) groups.set(value, []);
      groups.get(value).push(run);
    }
    const items = [];
    for (const [value, members] of groups) {
      items.push({ group: value, label: groupCol.text, count: members.length });
      if (!this.collapsed.has(value)) items.push(...members.map((run) => ({ run })));
    }
    return items;
  }

  renderHead() {
    const sortKey = this.state.sort[0] || "";
    const cells = [h("div", { class: "cell" })];
    for (const col of this.columns) {
      const mark = sortKey === col.text ? " ▲" : sortKey === `-${col.text}` ? " ▼" : "";
      cells.push(h("div", {
        class: "cell head-cell", role: "columnheader", title: `${col.text}: click to sort`, "data-col": col.text,
        onclick: () => this.sortBy(col),
      }, col.label + mark));
    }
    clear(this.head).append(...cells);
    this.head.style.gridTemplateColumns = this.template;
    const width = 32 + this.columns.reduce((sum, c) => sum + (WIDTHS[c.key] && c.ns === "attr" ? WIDTHS[c.key] : 130), 0);
    this.head.style.width = `${width}px`;
  }

  sortBy(col) {
    const current = this.state.sort[0] || "";
    if (current === col.text) this.state.sort = [`-${col.text}`];
    else if (current === `-${col.text}`) this.state.sort = [];
    else this.state.sort = [col.text];
    this.pushState();
    this.load();
  }

  renderWindow() {
    if (!this.items) return;
    const top = this.scroller.scrollTop;
    const height = this.scroller.clientHeight || 800;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - 10);
    const last = Math.min(this.items.length, Math.ceil((top + height) / ROW_HEIGHT) + 10);
    if (this.rendered && this.rendered[0] === first && this.rendered[1] === last) return;
    this.rendered = [first, last];
    const rows = [];
    for (let i = first; i < last; i++) rows.push(this.rowNode(this.items[i], i));
    clear(this.body).append(...rows);
  }

  rowNode(item, index) {
    const style = { top: `${index * ROW_HEIGHT}px`, gridTemplateColumns: this.template, width: this.head.style.width };
    if (item.group !== undefined) {
      const closed = this.collapsed.has(item.group);
      return h("div", {
        class: "grid-row group-row", style, role: "row",
        onclick: () => { closed ? this.collapsed.delete(item.group) : this.collapsed.add(item.group); this.items = this.groupItems(); this.body.style.height = `${this.items.length * ROW_HEIGHT}px`; this.rendered = null; this.renderWindow(); },
      }, h("div", { class: "group-label", text: `${closed ? "▸" : "▾"} ${item.label} = ${item.group || "(none)"} · ${item.count} run${item.count === 1 ? "" : "s"}` }));
    }
    const run = item.run;
    const ref = refOf(run);
    const box = h("input", {
      type: "checkbox", "aria-label": `select ${run.name}`, checked: this.selected.has(ref),
      onchange: () => { box.checked ? this.selected.add(ref) : this.selected.delete(ref); this.updateCompareButton(); },
    });
    return h("div", { class: `grid-row${run.status === "RUNNING" ? " running" : ""}`, style, role: "row", "data-id": run.id },
      h("div", { class: "cell" }, box),
      this.columns.map((col) => h("div", { class: "cell", role: "cell" }, cellNode(run, col))));
  }

  updateCompareButton() {
    const n = this.selected.size;
    this.compareButton.disabled = n < 2;
    this.compareButton.textContent = n ? `Compare ${n}` : "Compare";
  }

  compare() {
    const params = new URLSearchParams();
    for (const ref of this.selected) params.append("run", ref);
    window.gitrunsNavigate(`/compare?${params}`);
  }

  buildColumnsPanel() {
    const shown = new Set(this.columns.map((c) => c.text));
    const search = h("input", { type: "search", placeholder: "find a column", class: "mono",
      oninput: () => { const q = search.value.toLowerCase(); for (const label of list.children) label.hidden = !label.dataset.col.toLowerCase().includes(q); } });
    const list = h("div", { class: "columns-list" }, this.data.available.map((col) => {
      const box = h("input", { type: "checkbox", checked: shown.has(col.text), onchange: () => this.toggleColumn(col, box.checked) });
      return h("label", { "data-col": col.text }, box, " ", col.text);
    }));
    const reset = h("button", { onclick: () => { this.state.cols = []; this.pushState(); this.load(); } }, "default columns");
    clear(this.columnsPanel).append(h("div", { class: "columns-tools" }, search, reset), list);
  }

  toggleColumn(col, on) {
    const texts = this.columns.map((c) => c.text).filter((t) => t !== col.text);
    if (on) texts.push(col.text);
    this.state.cols = texts;
    this.pushState();
    this.load();
  }

  buildGroupSelect() {
    const options = [["", "nothing"]];
    for (const col of this.data.available) {
      if (["status", "branch", "user", "host", "origin", "name", "experiment", "commit"].includes(col.key) && col.ns === "attr") options.push([col.text, col.text]);
      else if (col.ns === "tags" || col.ns === "params") options.push([col.text, col.text]);
    }
    const current = this.state.group;
    clear(this.groupSelect).append(...options.map(([value, label]) => h("option", { value, selected: value === current }, label)));
  }
}
