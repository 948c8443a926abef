// Parallel coordinates of a sweep: one vertical axis per param that varies, then the
// chosen metric; one line per run, coloured by that metric (dark low, yellow high).

import { h, clear, fmtValue } from "./dom.js";

function axisOf(label, values) {
  const present = values.filter((v) => v !== null && v !== undefined);
  const numeric = present.length && present.every((v) => typeof v === "number" && Number.isFinite(v));
  if (numeric) {
    const min = Math.min(...present), max = Math.max(...present);
    return { label, values, numeric: true, min, max, pos: (v) => (max === min ? 0.5 : (v - min) / (max - min)) };
  }
  const categories = [...new Set(present.map((v) => fmtValue(v)))].sort();
  return { label, values, numeric: false, categories,
    pos: (v) => (categories.length < 2 ? 0.5 : categories.indexOf(fmtValue(v)) / (categories.length - 1)) };
}

// viridis-like: dark purple (low) through teal to yellow (high)
const STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [220, 200, 30]];

function ramp(t) {
  const x = Math.min(Math.max(t, 0), 1) * (STOPS.length - 1);
  const i = Math.min(Math.floor(x), STOPS.length - 2), f = x - i;
  const c = STOPS[i].map((v, k) => Math.round(v + (STOPS[i + 1][k] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

export function varyingParams(runs) {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.params || {})))].sort();
  return keys.filter((k) => new Set(runs.map((r) => JSON.stringify(r.params[k] ?? null))).size > 1);
}

export function drawParallel(container, runs, metric) {
  clear(container);
  const params = varyingParams(runs);
  const metricValues = runs.map((r) => (r.metrics[metric] ? r.metrics[metric].last : null));
  const axes = [...params.map((k) => axisOf(k, runs.map((r) => r.params[k]))), axisOf(`metrics.${metric}`, metricValues.map((v) => (typeof v === "number" ? v : null)))];
  container.dataset.axes = String(axes.length);
  if (axes.length < 2) {
    container.append(h("p", { class: "muted", text: "no param differs between these runs" }));
    return;
  }
  const width = Math.max(480, container.clientWidth || 800), height = 320;
  const ratio = window.devicePixelRatio || 1;
  const canvas = h("canvas", { width: width * ratio, height: height * ratio, style: { width: `${width}px`, height: `${height}px` }, class: "parcoords" });
  container.append(canvas);
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  const left = 60, right = 60, top = 36, bottom = 28;
  const step = (width - left - right) / (axes.length - 1);
  const xOf = (i) => left + i * step;
  const yOf = (t) => top + (1 - t) * (height - top - bottom);
  const last = axes[axes.length - 1];
  ctx.lineWidth = 1.5;
  runs.forEach((run, r) => {
    const m = last.values[r];
    ctx.strokeStyle = m === null || m === undefined ? "rgba(128,128,128,0.5)" : ramp(last.pos(m));
    ctx.beginPath();
    let drawing = false;
    axes.forEach((axis, i) => {
      const v = axis.values[r];
      if (v === null || v === undefined) { drawing = false; return; }
      const x = xOf(i), y = yOf(axis.pos(v));
      if (drawing) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      drawing = true;
    });
    ctx.stroke();
  });
  ctx.fillStyle = "#222";
  ctx.strokeStyle = "#444";
  ctx.lineWidth = 1;
  ctx.font = "12px sans-serif";
  ctx.textAlign = "center";
  axes.forEach((axis, i) => {
    const x = xOf(i);
    ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, height - bottom); ctx.stroke();
    ctx.fillText(axis.label.length > 24 ? `${axis.label.slice(0, 23)}…` : axis.label, x, top - 18);
    if (axis.numeric) {
      ctx.fillText(fmtValue(axis.max), x, top - 4);
      ctx.fillText(fmtValue(axis.min), x, height - bottom + 14);
    } else {
      axis.categories.forEach((c) => ctx.fillText(c.length > 14 ? `${c.slice(0, 13)}…` : c, x, yOf(axis.pos(c)) - 3));
    }
  });
}
