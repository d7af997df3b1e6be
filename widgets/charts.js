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

// A line chart of `series` = [{label, x: [...], y: [...]}], with an optional vertical marker at
// x = `marker`. Returns the <svg>; data-series holds how many lines were drawn (for tests).
function lineChart(series, { width = 320, height = 160, title = "", xLabel = "", marker = null, logX = false } = {}) {
  const pad = { left: 48, right: 10, top: title ? 18 : 8, bottom: 28 };
  const svg = s("svg", { width, height, class: "lpn-chart", "data-series": series.length });
  if (title) svg.append(s("text", { x: pad.left, y: 12, "font-size": 11, "font-weight": "bold", text: title }));
  const xs = series.flatMap((d) => d.x), ys = series.flatMap((d) => d.y).filter((v) => isFinite(v));
  if (!xs.length || !ys.length) return svg;
  const tx = logX ? (v) => Math.log10(Math.max(v, 1)) : (v) => v;
  let [x0, x1] = [Math.min(...xs.map(tx)), Math.max(...xs.map(tx))];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 1; y1 += 1; }
  const W = width - pad.left - pad.right, H = height - pad.top - pad.bottom;
  const px = (v) => pad.left + ((tx(v) - x0) / (x1 - x0)) * W;
  const py = (v) => pad.top + (1 - (v - y0) / (y1 - y0)) * H;
  svg.append(s("rect", { x: pad.left, y: pad.top, width: W, height: H, fill: "none", stroke: "#ccc" }));
  for (const [v, y] of [[y1, pad.top + 4], [y0, pad.top + H]])
    svg.append(s("text", { x: pad.left - 4, y, "text-anchor": "end", "font-size": 10, text: niceNumber(v) }));
  const xEnds = [Math.min(...xs), Math.max(...xs)];
  svg.append(s("text", { x: pad.left, y: height - 14, "font-size": 10, text: niceNumber(xEnds[0]) }));
  svg.append(s("text", { x: pad.left + W, y: height - 14, "text-anchor": "end", "font-size": 10,
                         text: niceNumber(xEnds[1]) }));
  if (xLabel) {
    svg.append(s("text", { x: pad.left + W / 2, y: height - 3, "text-anchor": "middle", "font-size": 10, text: xLabel }));
  }
  series.forEach((d, k) => {
    const colour = d.colour || SERIES_COLOURS[k % SERIES_COLOURS.length];
    const points = d.x.map((x, i) => [x, d.y[i]]).filter(([, y]) => isFinite(y));
    svg.append(s("polyline", { points: points.map(([x, y]) => `${px(x)},${py(y)}`).join(" "), fill: "none",
                               stroke: colour, "stroke-width": 1.5, "data-label": d.label }));
    if (points.length) { // the last point as a dot: a one-step search is a dot, not an invisible line
      const [x, y] = points[points.length - 1];
      svg.append(s("circle", { cx: px(x), cy: py(y), r: 3, fill: colour }));
    }
    if (series.length > 1 || d.label)
      svg.append(s("text", { x: pad.left + W - 4, y: pad.top + 12 + 12 * k, "text-anchor": "end", "font-size": 10,
                             fill: colour, text: d.label }));
  });
  if (marker !== null && marker !== undefined) {
    svg.append(s("line", { x1: px(marker), x2: px(marker), y1: pad.top, y2: pad.top + H, stroke: "#222",
                           "stroke-dasharray": "3 2", class: "lpn-marker", "data-x": marker }));
  }
  return svg;
}
