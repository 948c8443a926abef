// One run's page: identity, params (with their source), metric charts, system metrics,
// logs, environment, code, artifacts, notes, tags, history and lineage. A RUNNING run is
// polled: its status and charts update without a reload.

import { h, clear, fmtBytes, fmtDuration, fmtTime, fmtValue, kvTable, section, shortId, statusBadge, colorOf, errorBox, runLink } from "./dom.js";
import { viewControls } from "./charts.js";
import { ChartGrid } from "./metricgrid.js";

const RUN_POLL_MS = 2000;

export function paramSource(sources, key) {
  if (!sources) return "";
  if (sources[key]) return sources[key];
  const parts = key.split(".");
  for (let i = parts.length - 1; i > 0; i--) {
    const prefix = parts.slice(0, i).join(".");
    if (sources[prefix]) return sources[prefix];
  }
  return "";
}

export function flatten(value, prefix = "", out = {}) {
  if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) out[prefix] = value;
  return out;
}

export function readView(search, fallback = {}) {
  const params = new URLSearchParams(search);
  return {
    x: params.get("x") || fallback.x || "step",
    smooth: Number(params.get("smooth") || fallback.smooth || 0),
    log: params.get("log") === "1",
  };
}

export function writeView(view) {
  const params = new URLSearchParams(location.search);
  view.x !== "step" ? params.set("x", view.x) : params.delete("x");
  view.smooth ? params.set("smooth", String(view.smooth)) : params.delete("smooth");
  view.log ? params.set("log", "1") : params.delete("log");
  const text = params.toString();
  history.replaceState(null, "", `${location.pathname}${text ? `?${text}` : ""}`);
}

export class RunPage {
  constructor(root, source, id, origin, options = {}) {
    this.root = root;
    this.source = source;
    this.id = id;
    this.origin = origin;
    this.options = options;  // {allowEdit, embedded (a report), view}
    this.view = options.view || readView(location.search);
    this.timer = null;
    this.load();
  }

  destroy() {
    clearTimeout(this.timer);
    this.destroyed = true;
    for (const grid of [this.grid, this.systemGrid]) if (grid && grid.destroy) grid.destroy();
  }

  async load() {
    try {
      this.run = await this.source.run(this.id, this.origin);
    } catch (error) {
      clear(this.root).append(errorBox(error.error || error));
      return;
    }
    this.render();
    this.schedulePoll();
  }

  schedulePoll() {
    if (!this.destroyed && this.source.live && this.run.status === "RUNNING") this.timer = setTimeout(() => this.poll(), RUN_POLL_MS);
  }

  async poll() {
    try {
      const run = await this.source.run(this.id, this.origin);
      const [ownBefore, systemBefore] = this.metricKeys();
      this.run = run;
      const [own, system] = this.metricKeys();
      const firstMetrics = (!ownBefore.length && own.length) || (!systemBefore.length && system.length);
      if (run.status !== "RUNNING" || firstMetrics) {
        this.render();  // it ended, or logged its first metrics: draw the page anew
      } else {
        this.renderHeader();
        await this.grid.refresh(own);
        if (this.systemGrid) await this.systemGrid.refresh(system);
      }
    } catch (error) { /* keep what is shown; try again */ }
    this.schedulePoll();
  }

  metricKeys() {
    const keys = Object.keys(this.run.metrics || {}).sort();
    return [keys.filter((k) => !k.startsWith("system/")), keys.filter((k) => k.startsWith("system/"))];
  }

  render() {
    for (const grid of [this.grid, this.systemGrid]) if (grid && grid.destroy) grid.destroy();
    this.grid = this.systemGrid = null;
    this.headerSlot = h("div", { class: "run-header" });
    const [own, system] = this.metricKeys();
    const nav = [["overview", "Overview"], ["metrics", "Metrics"], ["system", "System"], ["logs", "Logs"],
      ["environment", "Environment"], ["code", "Code"], ["artifacts", "Artifacts"], ["notes", "Notes & tags"],
      ["history", "History"], ["lineage", "Lineage"]];
    const sections = [
      this.overview(),
      this.metricsSection("metrics", "Metrics", own, false),
      system.length ? this.metricsSection("system", "System metrics", system, true) : null,
      this.logsSection(),
      this.environmentSection(),
      this.codeSection(),
      this.artifactsSection(),
      this.notesSection(),
      this.historySection(),
      this.lineageSection(),
    ].filter(Boolean);
    const present = new Set(sections.map((s) => s.id));
    const links = nav.filter(([id]) => present.has(id)).map(([id, label]) => h("a", { href: `#${id}`, text: label }));
    clear(this.root).append(this.headerSlot);
    if (!this.options.embedded) this.root.append(h("nav", { class: "page-nav" }, links));
    this.root.append(...sections);
    this.renderHeader();
  }

  renderHeader() {
    const run = this.run;
    const title = h("h1", {}, run.name, " ", statusBadge(run.status));
    const meta = h("div", { class: "run-meta mono" }, run.id, run.origin && run.origin !== "local" ? ` · fetched from ${run.origin}` : "");
    clear(this.headerSlot).append(title, meta);
    if (this.options.allowEdit && run.origin === "local") this.headerSlot.append(this.renameForm());
    this.root.dataset.status = run.status;
  }

  renameForm() {
    const input = h("input", { type: "text", value: this.run.name, "aria-label": "new name" });
    return h("form", { class: "inline-form", onsubmit: (e) => { e.preventDefault(); this.edit("name", { name: input.value }); } },
      input, h("button", { type: "submit" }, "Rename"));
  }

  async edit(change, body) {
    try {
      await this.source.edit(this.run.id, change, body);
      this.run = await this.source.run(this.run.id, this.origin);
      this.render();
    } catch (error) {
      this.root.prepend(errorBox(error.error || error));
    }
  }

  overview() {
    const run = this.run;
    const user = run.user || {};
    const rows = [
      ["status", h("span", {}, run.status, run.exit_code !== null && run.exit_code !== undefined ? ` (exit code ${run.exit_code})` : "")],
      ["user", `${user.name || ""} <${user.email || ""}>${user.os_user ? ` (${user.os_user})` : ""} on ${run.host || "?"}`],
      ["start", fmtTime(run.start_time)],
      ["end", run.end_time ? fmtTime(run.end_time) : "-"],
      ["duration", fmtDuration(run.duration_s)],
    ];
    const command = run.command && (run.command.line || (run.command.argv || []).join(" "));
    if (command) rows.push(["command", h("code", { text: command })]);
    if (run.error) rows.push(["error", h("span", { class: "bad", text: `${run.error.type || ""}: ${run.error.message || ""}` })]);
    const params = flatten(run.params || {});
    const paramRows = Object.keys(params).sort().map((key) =>
      h("tr", {}, h("th", { class: "mono", text: key }), h("td", { class: "mono", text: fmtValue(params[key]) }),
        h("td", { class: "source", text: paramSource(run.param_sources, key) })));
    return section("overview", "Overview", kvTable(rows),
      h("h3", { text: `Params (${paramRows.length})` }),
      paramRows.length ? h("table", { class: "params" }, h("thead", {}, h("tr", {}, h("th", { text: "key" }), h("th", { text: "value" }), h("th", { text: "source" }))), h("tbody", {}, paramRows)) : h("p", { class: "muted", text: "no params" }));
  }

  metricsSection(id, title, keys, system) {
    const body = h("div", {});
    const node = section(id, title);
    if (!keys.length) { node.append(h("p", { class: "muted", text: "no metrics" })); this.grid = this.grid || { refresh: async () => {} }; return node; }
    const fetchLines = async (wanted, span) => {
      const opts = span ? { min_step: span[0], max_step: span[1] } : {};
      const data = await this.source.series(this.run.id, this.origin, wanted, opts);
      const startMs = Date.parse(this.run.start_time);
      return new Map(data.series.map((s) => [s.key, [{ label: s.key, color: colorOf(system ? 1 : 0), series: s, startMs }]]));
    };
    const grid = new ChartGrid(body, keys, this.view, fetchLines);
    if (system) this.systemGrid = grid; else this.grid = grid;
    if (!system) {
      node.append(viewControls(this.view, () => {
        this.grid.redraw();
        if (this.systemGrid) this.systemGrid.redraw();
        if (!this.options.embedded) writeView(this.view);
      }));
    }
    node.append(body);
    return node;
  }

  logsSection() {
    if (!this.source.logs || !(this.run.logs || []).length) return null;
    const output = h("pre", { class: "log", id: "log-text" });
    const info = h("div", { class: "muted" });
    let stream = this.run.logs[0];
    let all = false;
    const search = h("input", { type: "search", placeholder: "search the log", "aria-label": "search the log" });
    const load = async () => {
      const opts = search.value ? { q: search.value } : { tail: all ? "all" : "1000" };
      try {
        const data = await this.source.logs(this.run.id, this.origin, stream, opts);
        const width = String(data.total).length;
        output.textContent = data.lines.map(([n, line]) => `${String(n).padStart(width)}  ${line}`).join("\n");
        info.textContent = search.value ? `${data.lines.length} matching lines of ${data.total}` : `${data.lines.length} of ${data.total} lines`;
      } catch (error) { output.textContent = error.message; }
    };
    search.addEventListener("keydown", (e) => { if (e.key === "Enter") load(); });
    const tabs = h("div", { class: "tabs" }, this.run.logs.map((name) => h("button", { onclick: () => { stream = name; load(); } }, name)),
      h("button", { onclick: () => { all = !all; load(); } }, "tail / all"), search);
    const node = section("logs", "Logs", tabs, info, output);
    load();
    return node;
  }

  environmentSection() {
    const env = this.run.env || {};
    const rows = [["python", env.python], ["os", env.os], ["cpu", env.cpu], ["memory", env.memory],
      ["gpus", (env.gpus || []).join(", ")], ["packages", env.packages]].filter(([, v]) => v !== null && v !== undefined && v !== "");
    const node = section("environment", "Environment", rows.length ? kvTable(rows) : h("p", { class: "muted", text: "no environment recorded" }));
    if (this.source.environment && rows.length) {
      const more = h("div", {});
      const details = h("details", { ontoggle: async () => {
        if (more.firstChild || !details.open) return;
        const data = await this.source.environment(this.run.id, this.origin);
        const packages = Object.entries(data.packages || {});
        more.append(h("h3", { text: `Packages (${packages.length})` }),
          h("table", { class: "packages mono" }, h("tbody", {}, packages.map(([n, v]) => h("tr", {}, h("td", { text: n }), h("td", { text: v }))))),
          h("h3", { text: "Platform (env/platform.yaml)" }), h("pre", { class: "mono small", text: JSON.stringify(data.platform, null, 2) }));
      } }, h("summary", { text: "packages and platform" }), more);
      node.append(details);
    }
    return node;
  }

  codeSection() {
    const git = this.run.git || {};
    const rows = [["commit", h("span", { class: "mono", text: git.commit || "(none)" })], ["branch", git.branch || "(detached)"]];
    if (git.remote_url) rows.push(["remote", git.remote_url]);
    rows.push(["dirty", git.dirty ? `yes: snapshot ${git.snapshot}` : "no"]);
    const node = section("code", "Code", kvTable(rows));
    if (this.run.has_patch && this.source.patch) {
      const pre = h("pre", { class: "diff", id: "patch" });
      const details = h("details", { ontoggle: async () => {
        if (pre.firstChild || !details.open) return;
        const { patch } = await this.source.patch(this.run.id, this.origin);
        pre.append(...patch.split("\n").map((line) => h("span", {
          class: line.startsWith("+") && !line.startsWith("+++") ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del" : line.startsWith("@@") ? "hunk" : "",
          text: `${line}\n`,
        })));
      } }, h("summary", { text: "uncommitted changes (code/uncommitted.patch)" }), pre);
      node.append(details);
    }
    return node;
  }

  artifactsSection() {
    const artifacts = this.run.artifacts || [];
    if (!artifacts.length) return null;
    const url = (a) => (this.source.artifactUrl && a.here ? this.source.artifactUrl(this.run.id, this.origin, a.path) : null);
    const rows = artifacts.map((a) => h("tr", {},
      h("td", { class: "mono" }, url(a) ? h("a", { href: url(a), download: a.image ? null : a.path.split("/").pop(), text: a.path }) : a.path),
      h("td", { text: fmtBytes(a.size) }), h("td", { text: a.media_type || "" }),
      h("td", { class: a.here ? "" : "muted", text: a.here ? "here" : "not in this repository's store" }),
      h("td", { class: "mono small", text: shortId(a.sha256) })));
    const images = artifacts.filter((a) => a.image && url(a)).map((a) => h("figure", {}, h("img", { src: url(a), alt: a.path, loading: "lazy" }), h("figcaption", { text: a.path })));
    return section("artifacts", `Artifacts (${artifacts.length})`, h("table", { class: "artifacts" }, h("tbody", {}, rows)), h("div", { class: "images" }, images));
  }

  notesSection() {
    const run = this.run;
    const tags = Object.entries(run.tags || {});
    const editable = this.options.allowEdit && run.origin === "local";
    const tagRows = tags.map(([k, v]) => h("tr", {}, h("th", { class: "mono", text: k }), h("td", { text: v }),
      editable ? h("td", {}, h("button", { class: "small", onclick: () => this.edit("tags", { delete: [k] }) }, "remove")) : null));
    const node = section("notes", "Notes & tags",
      h("h3", { text: `Tags (${tags.length})` }),
      tags.length ? h("table", { class: "kv", id: "tags" }, h("tbody", {}, tagRows)) : h("p", { class: "muted", text: "no tags" }));
    if (editable) {
      const key = h("input", { type: "text", placeholder: "key", "aria-label": "tag key" });
      const value = h("input", { type: "text", placeholder: "value", "aria-label": "tag value" });
      node.append(h("form", { class: "inline-form", id: "tag-form", onsubmit: (e) => { e.preventDefault(); this.edit("tags", { set: { [key.value]: value.value } }); } },
        key, value, h("button", { type: "submit" }, "Set tag")));
    }
    node.append(h("h3", { text: `Notes (${(run.notes || []).length})` }));
    for (const note of run.notes || []) {
      node.append(h("div", { class: "note" }, h("div", { class: "muted small", text: `${note.author || ""} · ${fmtTime(note.time)}` }), h("div", { class: "note-text", text: note.text })));
    }
    if (editable) {
      const text = h("textarea", { rows: "3", placeholder: "add a note", "aria-label": "note" });
      node.append(h("form", { class: "inline-form", id: "note-form", onsubmit: (e) => { e.preventDefault(); this.edit("note", { text: text.value }); } },
        text, h("button", { type: "submit" }, "Add note")));
    }
    return node;
  }

  historySection() {
    const entries = this.run.history || [];
    if (!entries.length) return null;
    return section("history", "History", h("table", { class: "history" }, h("tbody", {}, entries.map((e) =>
      h("tr", {}, h("td", { class: "mono small", text: (e.commit || "").slice(0, 10) }), h("td", { text: fmtTime(e.time) }),
        h("td", { text: e.kind }), h("td", { text: e.author }), h("td", { text: (e.changes || []).join("; ") }))))));
  }

  lineageSection() {
    const lineage = this.run.lineage || { parents: [], inputs: [] };
    if (!lineage.parents.length && !lineage.inputs.length) return null;
    const parents = lineage.parents.map((p) => h("li", {}, p.here ? runLink({ id: p.id, origin: "local" }, p.name) : h("span", { class: "mono", text: p.id }),
      p.status ? " " : "", p.status ? statusBadge(p.status) : "", p.here ? "" : " (not here)"));
    const inputs = lineage.inputs.map((i) => h("li", { class: "mono", text: `${i.path || i.uri || ""}${i.sha256 ? ` sha256:${String(i.sha256).slice(0, 12)}` : ""}` }));
    return section("lineage", "Lineage",
      lineage.parents.length ? h("div", {}, h("h3", { text: "Parent runs" }), h("ul", {}, parents)) : null,
      lineage.inputs.length ? h("div", {}, h("h3", { text: "Inputs" }), h("ul", {}, inputs)) : null);
  }
}
