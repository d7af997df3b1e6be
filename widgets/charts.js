// Small SVG charts shared by the search and training widgets (loaded after common.js).

const SVG_NS = "http://www.w3.org/2000/svg";
const SERIES_COLOURS = ["#0074D9", "#FF4136", "#2ECC40", "#FF851B", "#B10DC9", "#39CCCC", "#85144b", "#3D9970"];

function s(tag, attrs = {}, children = []) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const child of [].concat(children)) if (child) node.append(child);
  return node;
}

function niceNumber(v) {
  if (!isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
  const a = Math.abs(v);
  return a >= 1000 || (a > 0 && a < 0.01) ? v.toExponential(1) : v.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2);
}

// About `count` round values (1, 2 or 5 times a power of ten) from `lo` to `hi`: a y axis's ticks.
function niceTicks(lo, hi, count = 5) {
  const raw = (hi - lo) / count, power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((v) => v >= raw) || raw;
  const ticks = [];
  const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    ticks.push(Math.abs(v) >= 1e5 ? v.toExponential(1) : (Math.abs(v) < step * 1e-9 ? 0 : v).toFixed(digits));
  return ticks; // as text, every tick with the digits its step needs
}

// Legend entries laid out in rows under the plot, so labels never sit on the lines.
function legendRows(labels, width, left) {
  const rows = [[]];
  let x = left;
  for (const [k, label] of labels.entries()) {
    const w = 18 + 6 * label.length + 12;
    if (x + w > width && rows[rows.length - 1].length) { rows.push([]); x = left; }
    rows[rows.length - 1].push({ k, label, x });
    x += w;
  }
  return rows;
}

// A line chart of `series` = [{label, x: [...], y: [...]}], with an optional vertical marker at
// x = `marker`, ticks on the y axis and, for several or labelled series, a legend under the plot.
// Returns the <svg>; data-series holds how many lines were drawn (for tests).
function lineChart(series, { width = 320, height = 160, title = "", xLabel = "", marker = null, logX = false } = {}) {
  const pad = { left: 48, right: 10, top: title ? 18 : 8, bottom: 28 };
  const named = series.length > 1 || series.some((d) => d.label);
  const legend = named ? legendRows(series.map((d) => d.label || ""), width, pad.left) : [];
  const svg = s("svg", { width, height: height + 14 * legend.length + (legend.length ? 6 : 0), class: "lpn-chart",
                         "data-series": series.length });
  if (title) svg.append(s("text", { x: pad.left, y: 12, "font-size": 11, "font-weight": "bold", text: title }));
  const xs = series.flatMap((d) => d.x), ys = series.flatMap((d) => d.y).filter((v) => isFinite(v));
  if (!xs.length || !ys.length) return svg;
  const tx = logX ? (v) => Math.log10(Math.max(v, 1)) : (v) => v;
  let [x0, x1] = [Math.min(...xs.map(tx)), Math.max(...xs.map(tx))];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 1; y1 += 1; }
  const yTicks = niceTicks(y0, y1);
  [y0, y1] = [y0 - 0.04 * (y1 - y0), y1 + 0.04 * (y1 - y0)]; // a line at either end stays off the frame
  const W = width - pad.left - pad.right, H = height - pad.top - pad.bottom;
  const px = (v) => pad.left + ((tx(v) - x0) / (x1 - x0)) * W;
  const py = (v) => pad.top + (1 - (v - y0) / (y1 - y0)) * H;
  svg.append(s("rect", { x: pad.left, y: pad.top, width: W, height: H, fill: "none", stroke: "#ccc" }));
  for (const text of yTicks) {
    const y = py(Number(text));
    svg.append(s("line", { x1: pad.left, x2: pad.left + W, y1: y, y2: y, stroke: "#eee", class: "lpn-tick" }));
    svg.append(s("text", { x: pad.left - 4, y: y + 3, "text-anchor": "end", "font-size": 10, text }));
  }
  // x ticks: round values inside the range (a linear axis), and its two ends where they stand clear of them
  const xEnds = [Math.min(...xs), Math.max(...xs)];
  const inner = logX ? [] : niceTicks(xEnds[0], xEnds[1], 4).map(Number);
  const clear = (v) => inner.every((t) => Math.abs(px(t) - px(v)) > 0.12 * W);
  const xTicks = [...inner, ...xEnds.filter(clear)].filter((v, i, all) => all.indexOf(v) === i);
  for (const v of xTicks) {
    const x = px(v), anchor = x < pad.left + 12 ? "start" : x > pad.left + W - 12 ? "end" : "middle";
    svg.append(s("line", { x1: x, x2: x, y1: pad.top + H, y2: pad.top + H + 3, stroke: "#999", class: "lpn-xtick" }));
    svg.append(s("text", { x, y: height - 14, "text-anchor": anchor, "font-size": 10, text: niceNumber(v) }));
  }
  if (xLabel) {
    svg.append(s("text", { x: pad.left + W / 2, y: height - 3, "text-anchor": "middle", "font-size": 10, text: xLabel }));
  }
  const colourOf = (k) => series[k].colour || SERIES_COLOURS[k % SERIES_COLOURS.length];
  series.forEach((d, k) => {
    const colour = colourOf(k);
    const points = d.x.map((x, i) => [x, d.y[i]]).filter(([, y]) => isFinite(y));
    svg.append(s("polyline", { points: points.map(([x, y]) => `${px(x)},${py(y)}`).join(" "), fill: "none",
                               stroke: colour, "stroke-width": 1.5, "data-label": d.label }));
    if (points.length) { // the last point as a dot: a one-step search is a dot, not an invisible line
      const [x, y] = points[points.length - 1];
      svg.append(s("circle", { cx: px(x), cy: py(y), r: 3, fill: colour, class: "lpn-end" }));
    }
  });
  legend.forEach((row, r) => row.forEach(({ k, label, x }) => {
    const y = height + 14 * r + 12;
    svg.append(s("line", { x1: x, x2: x + 14, y1: y - 4, y2: y - 4, stroke: colourOf(k), "stroke-width": 2.5,
                           class: "lpn-legend" }));
    svg.append(s("text", { x: x + 18, y, "font-size": 10, fill: colourOf(k), text: label }));
  }));
  if (marker !== null && marker !== undefined) {
    svg.append(s("line", { x1: px(marker), x2: px(marker), y1: pad.top, y2: pad.top + H, stroke: "#222",
                           "stroke-dasharray": "3 2", class: "lpn-marker", "data-x": marker }));
  }
  return svg;
}
