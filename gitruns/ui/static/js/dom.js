// Small DOM and formatting helpers. Text always goes in through textContent, never
// innerHTML: run data (names, tags, notes, logs) may come from someone else's remote.

export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "style" && typeof value === "object") Object.assign(node.style, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

export function fmtNumber(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value !== "number") return String(value);
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e6)) return value.toExponential(4);
  return String(Number(value.toPrecision(6)));
}

export function fmtValue(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return fmtNumber(value);
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || seconds === "") return "";
  let s = Number(seconds);
  if (!Number.isFinite(s)) return "";
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)}s`;
  s = Math.round(s);
  const d = Math.floor(s / 86400), hr = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (d) return `${d}d${hr}h`;
  if (hr) return `${hr}h${String(m).padStart(2, "0")}m`;
  return `${m}m${String(sec).padStart(2, "0")}s`;
}

export function fmtTime(iso) {
  return iso ? String(iso).slice(0, 19).replace("T", " ") : "";
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0, v = Number(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i ? `${v.toFixed(1)} ${units[i]}` : `${v} B`;
}

export function shortId(id) {
  return String(id || "").replace(/-/g, "").slice(-8);
}

export function statusBadge(status) {
  return h("span", { class: `status status-${String(status || "").toLowerCase()}`, text: status || "" });
}

export const PALETTE = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
];

export function colorOf(index) {
  return PALETTE[index % PALETTE.length];
}

export function section(id, title, ...children) {
  return h("section", { id, class: "section" }, h("h2", { text: title }), ...children);
}

export function kvTable(rows, className = "kv") {
  return h("table", { class: className },
    h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", { text: k }), h("td", {}, v)))));
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// Where a link to a run goes: its page on the dashboard, or its section of a report.
let runHrefOf = (run) => {
  const origin = run.origin && run.origin !== "local" ? `?origin=${encodeURIComponent(run.origin)}` : "";
  return `/run/${encodeURIComponent(run.id)}${origin}`;
};

export function setRunHref(fn) {
  runHrefOf = fn;
}

export function runLink(run, text) {
  return h("a", { href: runHrefOf(run), "data-nav": "1", text: text ?? run.name });
}

export function errorBox(error) {
  // The filter language's message points at a column: show the text with a caret under it.
  const box = h("div", { class: "error-box", role: "alert" });
  if (error && error.column && error.text !== undefined) {
    box.append(h("div", { class: "error-title", text: `syntax error at column ${error.column}: ${error.problem}` }));
    box.append(h("pre", { class: "caret" }, `${error.text}\n${" ".repeat(error.column - 1)}^`));
  } else {
    box.append(h("div", { class: "error-title", text: (error && error.message) || String(error) }));
    if (error && error.hint) box.append(h("div", { class: "error-hint", text: error.hint }));
  }
  return box;
}
