// The dashboard: a small router over three pages (runs table, run, compare). Links with
// data-nav change the URL without a reload; the back button works.

import { h, clear, errorBox } from "./dom.js";
import { serverSource } from "./source.js";
import { RunsTable } from "./table.js";
import { RunPage } from "./runpage.js";
import { ComparePage } from "./compare.js";

let current = null;
let info = null;

function route() {
  if (current && current.destroy) current.destroy();
  const root = document.getElementById("app");
  const path = location.pathname;
  const params = new URLSearchParams(location.search);
  if (path.startsWith("/run/")) {
    const id = decodeURIComponent(path.slice("/run/".length));
    current = new RunPage(root, serverSource, id, params.get("origin"), { allowEdit: info.allow_edit });
    document.title = `run ${id.slice(-8)} · gitruns`;
  } else if (path === "/compare") {
    current = new ComparePage(root, serverSource, params.getAll("run"));
    document.title = "compare · gitruns";
  } else {
    current = new RunsTable(root, serverSource, info);
    document.title = `${info.repo} · gitruns`;
  }
}

window.gitrunsNavigate = (url) => {
  history.pushState(null, "", url);
  route();
  window.scrollTo(0, 0);
};

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-nav]");
  if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  window.gitrunsNavigate(link.getAttribute("href"));
});

window.addEventListener("popstate", route);

async function boot() {
  const top = document.getElementById("top");
  try {
    info = await serverSource.info();
  } catch (error) {
    clear(document.getElementById("app")).append(errorBox(error.error || error));
    return;
  }
  clear(top).append(
    h("a", { href: "/", "data-nav": "1", class: "brand", text: "gitruns" }),
    h("span", { class: "repo", text: info.repo, title: info.path }),
    h("span", { class: info.allow_edit ? "mode edit" : "mode", text: info.allow_edit ? "editing allowed" : "read-only" }));
  route();
}

boot();
