// The painting surface shared by the grid editor and the task builder: colour swatches, tools,
// the size inputs and a canvas on which strokes are drawn at once and sent to Python on mouse-up.
// Python owns the grid and its history: the surface sends commands ({"op": "paint", ...}) and
// draws the grid Python sends back. The widget's model has the traits colour, tool, can_undo,
// can_redo, lines, cell_size and palette.

const PAINT_CSS = `
.lpn-paint:focus { outline: 1px dashed #999; }
.lpn-paint .lpn-swatch { width: 22px; height: 22px; padding: 0; border: 1px solid #555; }
.lpn-paint .lpn-swatch[aria-pressed="true"] { outline: 3px solid #0074D9; outline-offset: 1px; }
.lpn-paint input[type=number] { width: 3.5em; }
.lpn-paint canvas[data-role=edit] { cursor: crosshair; }
`;

const SHORTCUTS = "0-9 colour · P paint · F fill · C copy input · Del clear · Ctrl+Z undo · Ctrl+Y redo · G lines";

// Builds the surface's parts for `root` (which gets the keyboard shortcuts and the focus outline).
// `canCopy()` says whether "copy input" applies now. Returns the parts to place, `draw(grid)` to
// show a grid from Python, and `dispose()` for the view's cleanup.
function paintSurface(model, root, { canCopy = () => false, caption = (g) => `edited ${g.rows}x${g.cols}` } = {}) {
  root.classList.add("lpn-paint");
  root.setAttribute("tabindex", "0");
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  const send = (op, args = {}) => model.send({ op, ...args });
  const save = (name, value) => { model.set(name, value); model.save_changes(); };
  let grid = null;
  let stroke = null; // {colour, cells: Map} while the mouse is down with the paint tool

  const swatches = model.get("palette").map((colour, k) =>
    h("button", { class: "lpn-swatch", title: `colour ${k} (key ${k})`, style: `background:${colour}`,
                  "data-colour": k, onclick: () => save("colour", k) }));
  const button = (text, title, onclick, attrs = {}) => h("button", { title, onclick, ...attrs, text });
  const paintBtn = button("paint", "paint tool (P)", () => save("tool", "paint"), { "data-tool": "paint" });
  const fillBtn = button("fill", "flood fill tool (F)", () => save("tool", "fill"), { "data-tool": "fill" });
  const undoBtn = button("undo", "undo (Ctrl+Z)", () => send("undo"), { "data-action": "undo" });
  const redoBtn = button("redo", "redo (Ctrl+Y)", () => send("redo"), { "data-action": "redo" });
  const copyBtn = button("copy input", "copy the input grid (C)", () => send("copy_input"), { "data-action": "copy_input" });
  const clearBtn = button("clear", "clear to black (Delete)", () => send("clear"), { "data-action": "clear" });
  const toggleLines = () => save("lines", !model.get("lines"));
  const linesBtn = button("lines", "grid lines (G)", toggleLines);
  const rowsIn = h("input", { type: "number", min: 1, max: 30, title: "rows", "data-size": "rows" });
  const colsIn = h("input", { type: "number", min: 1, max: 30, title: "columns", "data-size": "cols" });
  const resize = () => send("resize", { rows: Number(rowsIn.value), cols: Number(colsIn.value) });
  for (const input of [rowsIn, colsIn]) {
    input.addEventListener("change", resize);
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); resize(); } });
  }
  const canvas = h("canvas", { class: "lpn-grid", "data-role": "edit" });
  const sizeLabel = h("figcaption", { class: "lpn-size" });
  const figure = h("figure", { class: "lpn-figure" }, [canvas, sizeLabel]);
  const swatchBar = h("div", { class: "lpn-toolbar" }, swatches);
  const toolBar = h("div", { class: "lpn-toolbar" }, [paintBtn, fillBtn, undoBtn, redoBtn, copyBtn, clearBtn,
    linesBtn, h("span", { text: " size " }), rowsIn, h("span", { text: "×" }), colsIn]);

  function drawCanvas() {
    const cell = model.get("cell_size") || autoCell(grid, 240, 40); // bigger than a view: cells are targets
    drawGrid(canvas, grid, model.get("palette"), { cell, lines: model.get("lines") });
    sizeLabel.textContent = caption(grid);
  }

  function draw(next) {
    grid = next;
    swatches.forEach((s, k) => s.setAttribute("aria-pressed", String(k === model.get("colour"))));
    paintBtn.setAttribute("aria-pressed", String(model.get("tool") === "paint"));
    fillBtn.setAttribute("aria-pressed", String(model.get("tool") === "fill"));
    undoBtn.disabled = !model.get("can_undo");
    redoBtn.disabled = !model.get("can_redo");
    copyBtn.style.display = canCopy() ? "" : "none";
    for (const [input, value] of [[rowsIn, grid.rows], [colsIn, grid.cols]]) {
      if (document.activeElement !== input) input.value = value; // never under the user's typing
    }
    drawCanvas();
  }

  function strokeAt(event) {
    const at = cellAt(canvas, event);
    if (!at || stroke.cells.has(`${at}`)) return;
    stroke.cells.set(`${at}`, at);
    grid.cells[at[0] * grid.cols + at[1]] = stroke.colour;
    drawCanvas();
  }

  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  canvas.addEventListener("mousedown", (event) => {
    event.preventDefault();
    root.focus({ preventScroll: true }); // a scroll here would move the cell under the mouse
    const colour = event.button === 2 ? 0 : model.get("colour"); // right button paints black
    if (model.get("tool") === "fill") {
      const at = cellAt(canvas, event);
      if (at) send("fill", { row: at[0], col: at[1], colour });
      return;
    }
    stroke = { colour, cells: new Map() };
    strokeAt(event);
  });
  canvas.addEventListener("mousemove", (event) => { if (stroke) strokeAt(event); });
  const finish = () => {
    if (!stroke) return;
    const cells = [...stroke.cells.values()];
    const colour = stroke.colour;
    stroke = null;
    if (cells.length) send("paint", { cells, colour });
  };
  window.addEventListener("mouseup", finish);

  root.addEventListener("keydown", (event) => {
    event.stopPropagation(); // the notebook's shortcuts (z, c, digits...) must not act on these keys
    if (event.target.matches("input, textarea, select")) return;
    const key = event.key.toLowerCase(), ctrl = event.ctrlKey || event.metaKey;
    let handled = true;
    if (ctrl && key === "z") send(event.shiftKey ? "redo" : "undo");
    else if (ctrl && key === "y") send("redo");
    else if (ctrl || event.altKey) handled = false;
    else if (/^[0-9]$/.test(key)) save("colour", Number(key));
    else if (key === "p" || key === "b") save("tool", "paint");
    else if (key === "f") save("tool", "fill");
    else if (key === "c" && canCopy()) send("copy_input");
    else if (key === "delete" || key === "backspace") send("clear");
    else if (key === "g") toggleLines();
    else handled = false;
    if (handled) event.preventDefault();
  });

  return { swatchBar, toolBar, figure, canvas, draw, dispose: () => window.removeEventListener("mouseup", finish) };
}
