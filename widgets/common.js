// Shared by every lpn widget: decoding the grid buffer and drawing grids on canvas.
// Each widget's module is this file followed by its own file (see _base.py), because anywidget
// loads one ES module per widget and relative imports do not resolve from it.

const LINE = "#555555";
const MARK = "#FFFFFF";

// The inverse of encoding.py: (rows, cols, rows*cols colours) repeated; rows = 0 means missing.
function decodeGrids(data) {
  if (!data) return [];
  const bytes = data instanceof DataView
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer || data);
  const grids = [];
  let i = 0;
  while (i + 2 <= bytes.length) {
    const rows = bytes[i], cols = bytes[i + 1];
    grids.push(rows && cols ? { rows, cols, cells: bytes.slice(i + 2, i + 2 + rows * cols) } : null);
    i += 2 + rows * cols;
  }
  return grids;
}

function encodeGrid(grid) {
  const out = new Uint8Array(2 + grid.rows * grid.cols);
  out[0] = grid.rows; out[1] = grid.cols; out.set(grid.cells, 2);
  return out;
}

// Pixels per cell so a grid is about `target` pixels on its longer side (static.py: cell_size).
function autoCell(grid, target = 120, largest = 24) {
  return Math.max(4, Math.min(largest, Math.floor(target / Math.max(grid.rows, grid.cols))));
}

function h(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of [].concat(children)) if (child) node.append(child);
  return node;
}

// Draws `grid` on `canvas` at `cell` pixels per cell; `mask` (same shape, nonzero) cells get an X.
// data-rows/data-cols/data-cell/data-scale let a test map cells to pixels and read the colours back.
function drawGrid(canvas, grid, palette, { cell, mask = null, lines = true } = {}) {
  const scale = window.devicePixelRatio || 1;
  if (!grid) {
    cell = cell || 12;
    canvas.width = canvas.height = 3 * cell * scale;
    canvas.style.width = canvas.style.height = `${3 * cell}px`;
    const ctx = canvas.getContext("2d");
    ctx.scale(scale, scale);
    ctx.fillStyle = "#eeeeee"; ctx.fillRect(0, 0, 3 * cell, 3 * cell);
    ctx.fillStyle = "#666666"; ctx.font = `${1.5 * cell}px sans-serif`; ctx.textAlign = "center";
    ctx.fillText("?", 1.5 * cell, 2 * cell);
    Object.assign(canvas.dataset, { rows: 0, cols: 0, cell, scale });
    return;
  }
  cell = cell || autoCell(grid);
  const w = grid.cols * cell, ht = grid.rows * cell;
  canvas.width = w * scale; canvas.height = ht * scale;
  canvas.style.width = `${w}px`; canvas.style.height = `${ht}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(scale, 0, 0, scale, 0, 0);
  for (let r = 0; r < grid.rows; r++) {
    for (let c = 0; c < grid.cols; c++) {
      ctx.fillStyle = palette[grid.cells[r * grid.cols + c]];
      ctx.fillRect(c * cell, r * cell, cell, cell);
    }
  }
  if (lines && cell >= 6) {
    ctx.beginPath();
    for (let r = 1; r < grid.rows; r++) { ctx.moveTo(0, r * cell + 0.5); ctx.lineTo(w, r * cell + 0.5); }
    for (let c = 1; c < grid.cols; c++) { ctx.moveTo(c * cell + 0.5, 0); ctx.lineTo(c * cell + 0.5, ht); }
    ctx.strokeStyle = LINE; ctx.lineWidth = 1; ctx.stroke();
  }
  if (mask) {
    const pad = Math.max(1, Math.floor(cell / 5));
    ctx.beginPath();
    for (let r = 0; r < grid.rows; r++) for (let c = 0; c < grid.cols; c++) {
      if (!mask.cells[r * mask.cols + c]) continue;
      const x0 = c * cell + pad, y0 = r * cell + pad, x1 = (c + 1) * cell - pad, y1 = (r + 1) * cell - pad;
      ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.moveTo(x1, y0); ctx.lineTo(x0, y1);
    }
    ctx.strokeStyle = MARK; ctx.lineWidth = Math.max(1, Math.floor(cell / 8)); ctx.stroke();
  }
  ctx.strokeStyle = LINE; ctx.lineWidth = 2; ctx.strokeRect(0, 0, w, ht);
  Object.assign(canvas.dataset, { rows: grid.rows, cols: grid.cols, cell, scale });
}

// The cell under a mouse event on a canvas drawn by drawGrid, or null outside the grid.
function cellAt(canvas, event) {
  const box = canvas.getBoundingClientRect();
  const cell = Number(canvas.dataset.cell);
  const r = Math.floor((event.clientY - box.top) / cell), c = Math.floor((event.clientX - box.left) / cell);
  if (r < 0 || c < 0 || r >= Number(canvas.dataset.rows) || c >= Number(canvas.dataset.cols)) return null;
  return [r, c];
}

function figure(grid, palette, caption, opts = {}) {
  const canvas = h("canvas", { class: "lpn-grid" });
  drawGrid(canvas, grid, palette, opts);
  if (opts.role) canvas.dataset.role = opts.role;
  return h("figure", { class: "lpn-figure" }, [canvas, h("figcaption", { class: opts.status || "", text: caption })]);
}

const BASE_CSS = `
.lpn-widget { font-family: var(--jp-ui-font-family, sans-serif); font-size: 12px; color: var(--jp-ui-font-color1, #222); }
.lpn-widget figure.lpn-figure { margin: 0; display: flex; flex-direction: column; align-items: center; gap: 2px; }
.lpn-widget figure.lpn-figure figcaption { max-width: 180px; text-align: center; }
.lpn-widget canvas.lpn-grid { display: block; image-rendering: pixelated; }
.lpn-widget .lpn-row { display: flex; align-items: flex-end; gap: 12px; margin: 4px 0; flex-wrap: wrap; }
.lpn-widget .lpn-label { width: 56px; color: #666; }
.lpn-widget .correct { color: #1a7f37; } .lpn-widget .wrong, .lpn-widget .shape { color: #c62828; }
.lpn-widget h4 { margin: 8px 0 2px; }
.lpn-widget button { font-size: 12px; padding: 2px 8px; cursor: pointer; }
.lpn-widget button[aria-pressed="true"] { outline: 2px solid #0074D9; }
.lpn-widget .lpn-toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 4px; margin: 4px 0; }
`;

function addStyle(el, css) {
  el.append(h("style", { text: BASE_CSS + (css || "") }));
}

// Runs `fn` once after the current burst of trait changes (several traits often change together).
function batched(fn) {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    queueMicrotask(() => { pending = false; fn(); });
  };
}

// Draws a layout (layout.py: sections of rows of items pointing into `grids`) into `parent`.
function drawSections(parent, grids, sections, palette, { cellSize = 0, lines = true, target = 120 } = {}) {
  sections.forEach((section, i) => {
    const block = h("div", { class: "lpn-section", "data-section": i });
    if (section.title) block.append(h("h4", { text: section.title }));
    for (const row of section.rows) {
      const line = h("div", { class: "lpn-row" }, h("span", { class: "lpn-label", text: row.label }));
      for (const item of row.items) {
        const grid = grids[item.grid];
        const mask = item.mismatch !== undefined ? grids[item.mismatch] : null;
        const cell = cellSize || (grid && autoCell(grid, target));
        const fig = figure(grid, palette, item.caption, { cell, mask, lines, status: item.status });
        fig.firstChild.dataset.grid = item.grid;
        line.append(fig);
      }
      block.append(line);
    }
    parent.append(block);
  });
}

// Keeps the notebook's keyboard shortcuts (arrows, digits, z, c...) away from keys pressed inside
// a widget, so sliders, inputs and the editor's own shortcuts get them.
function isolateKeys(root) {
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  root.addEventListener("keydown", (event) => event.stopPropagation());
}
