// Where the pages get their data: the dashboard's JSON API, or the data a static report
// carries inline. Both offer the same methods, so the same views draw either.

export class ApiError extends Error {
  constructor(status, error) {
    super((error && error.message) || `HTTP ${status}`);
    this.status = status;
    this.error = error || { message: `HTTP ${status}` };
  }
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === null || value === undefined || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(key, item);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function getJSON(path, params) {
  const response = await fetch(path + query(params), { headers: { accept: "application/json" } });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body && body.error);
  return body;
}

function runPath(id, suffix = "") {
  return `/api/runs/${encodeURIComponent(id)}${suffix}`;
}

export const serverSource = {
  live: true,
  info: () => getJSON("/api/info"),
  runs: (params) => getJSON("/api/runs", params),
  version: () => getJSON("/api/version"),
  run: (id, origin) => getJSON(runPath(id), { origin }),
  series: (id, origin, keys, opts = {}) =>
    getJSON(runPath(id, "/series"), { origin, key: keys, ...opts }),
  overlay: (runs, key, opts = {}) =>
    getJSON("/api/series", { run: runs.map(refOf), key, ...opts }),
  logs: (id, origin, stream, opts = {}) =>
    getJSON(runPath(id, `/logs/${stream}`), { origin, ...opts }),
  environment: (id, origin) => getJSON(runPath(id, "/environment"), { origin }),
  patch: (id, origin) => getJSON(runPath(id, "/patch"), { origin }),
  artifactUrl: (id, origin, path) =>
    runPath(id, `/artifacts/${path.split("/").map(encodeURIComponent).join("/")}`) + query({ origin }),
  compare: (refs) => getJSON("/api/compare", { run: refs }),
  async edit(id, change, body) {
    const response = await fetch(runPath(id, `/edit/${change}`), {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data && data.error);
    return data;
  },
};

export function refOf(run) {
  return run.origin && run.origin !== "local" ? `${run.id}@${run.origin}` : run.id;
}

// A report: everything was computed when it was written; nothing is live.
export function reportSource(data) {
  const byId = new Map(data.runs.map((run) => [run.id, run]));
  const seriesOf = (id, key) => ((data.series[id] || {})[key]) || null;
  return {
    live: false,
    info: async () => data.info,
    run: async (id) => byId.get(id),
    series: async (id, origin, keys) => ({
      id, status: byId.get(id).status,
      series: keys.map((key) => seriesOf(id, key)).filter(Boolean),
    }),
    overlay: async (runs, key) => ({
      key, runs: runs.map((run) => ({ id: run.id, origin: run.origin, series: seriesOf(run.id, key) })),
    }),
    logs: null,
    environment: null,
    patch: null,
    artifactUrl: null,
    compare: async () => data.compare,
    edit: null,
  };
}
