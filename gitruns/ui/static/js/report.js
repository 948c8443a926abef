// A static report: the data was written into the page by `gitruns report`; the same
// views as the dashboard draw it, with no server (it opens from file://).

import { h, clear, fmtTime, setRunHref } from "./dom.js";
import { reportSource } from "./source.js";
import { RunPage } from "./runpage.js";
import { ComparePage } from "./compare.js";

function bootReport() {
  const data = JSON.parse(document.getElementById("gitruns-data").textContent);
  const source = reportSource(data);
  const root = document.getElementById("app");
  const view = { x: "step", smooth: 0, log: false };
  clear(document.getElementById("top")).append(
    h("span", { class: "brand", text: "gitruns report" }),
    h("span", { class: "repo", text: data.info.repo }),
    h("span", { class: "mode", text: `written ${fmtTime(data.info.generated)} by gitruns ${data.info.version}` }));
  if (data.runs.length === 1) {
    new RunPage(root, source, data.runs[0].id, null, { embedded: true, view });
    return;
  }
  setRunHref((run) => `#run-${run.id}`);
  const compare = h("div", { id: "report-compare" });
  const details = data.runs.map((run) => {
    const body = h("div", {});
    const node = h("details", { class: "report-run", id: `run-${run.id}`, ontoggle: () => {
      if (node.open && !body.firstChild) new RunPage(body, source, run.id, null, { embedded: true, view: { ...view } });
    } }, h("summary", { text: `${run.name} (${run.id.slice(-8)}) · ${run.status}` }), body);
    return node;
  });
  clear(root).append(compare, h("section", { class: "section" }, h("h2", { text: "Each run" }), details));
  new ComparePage(compare, source, data.runs.map((r) => r.id), { embedded: true, view });
  const openLinked = () => {
    const target = location.hash && document.getElementById(location.hash.slice(1));
    if (target && target.tagName === "DETAILS") { target.open = true; target.scrollIntoView(); }
  };
  window.addEventListener("hashchange", openLinked);
  openLinked();
}

bootReport();
