// Grid editor: a palette, tools and a canvas. Strokes are drawn at once and sent to Python on
// mouse-up; Python owns the grid and its history and sends the result back in `grid`.

const EDITOR_CSS = `
.lpn-grid-editor:focus { outline: 1px dashed #999; }
.lpn-grid-editor .lpn-swatch { width: 22px; height: 22px; padding: 0; border: 1px solid #555; }
.lpn-grid-editor .lpn-swatch[aria-pressed="true"] { outline: 3px solid #0074D9; outline-offset: 1px; }
.lpn-grid-editor input[type=number] { width: 3.5em; }
.lpn-grid-editor canvas[data-role=edit] { cursor: crosshair; }
`;

const SHORTCUTS = "0-9 colour · P paint · F fill · C copy input · Del clear · Ctrl+Z undo · Ctrl+Y redo · G lines";

function renderGridEditor({ model, el }) {
  const root = h("div", { class: "lpn-widget lpn-grid-editor", tabindex: "0" });
  el.append(root);
  addStyle(root, EDITOR_CSS);
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  const send = (op, args = {}) => model.send({ op, ...args });
  let grid = decodeGrids(model.get("grid"))[0];
  let stroke = null; // {colour, cells: Map} while the mouse is down with the paint tool

  const swatches = model.get("palette").map((colour, k) =>
    h("button", { class: "lpn-swatch", title: `colour ${k} (key ${k})`, style: `background:${colour}`,
                  "data-colour": k, onclick: () => model.set("colour", k) || model.save_changes() }));
  const button = (text, title, onclick, attrs = {}) => h("button", { title, onclick, ...attrs, text });
  const paintBtn = button("paint", "paint tool (P)", () => setTool("paint"), { "data-tool": "paint" });
  const fillBtn = button("fill", "flood fill tool (F)", () => setTool("fill"), { "data-tool": "fill" });
  const undoBtn = button("undo", "undo (Ctrl+Z)", () => send("undo"), { "data-action": "undo" });
  const redoBtn = button("redo", "redo (Ctrl+Y)", () => send("redo"), { "data-action": "redo" });
  const copyBtn = button("copy input", "copy the input grid (C)", () => send("copy_input"), { "data-action": "copy_input" });
  const clearBtn = button("clear", "clear to black (Delete)", () => send("clear"), { "data-action": "clear" });
  const toggleLines = () => { model.set("lines", !model.get("lines")); model.save_changes(); };
  const linesBtn = button("lines", "grid lines (G)", toggleLines);
  const rowsIn = h("input", { type: "number", min: 1, max: 30, title: "rows", "data-size": "rows" });
  const colsIn = h("input", { type: "number", min: 1, max: 30, title: "columns", "data-size": "cols" });
  const resize = () => send("resize", { rows: Number(rowsIn.value), cols: Number(colsIn.value) });
  for (const input of [rowsIn, colsIn]) {
    input.addEventListener("change", resize);
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); resize(); } });
  }

  const title = h("div", { class: "lpn-title" });
  const sourceFig = h("div"), editFig = h("div"), resultFig = h("div");
  const canvas = h("canvas", { class: "lpn-grid", "data-role": "edit" });
  editFig.append(h("figure", { class: "lpn-figure" }, [canvas, h("figcaption", { class: "lpn-size" })]));
  root.append(
    title,
    h("div", { class: "lpn-toolbar" }, swatches),
    h("div", { class: "lpn-toolbar" }, [paintBtn, fillBtn, undoBtn, redoBtn, copyBtn, clearBtn, linesBtn,
      h("span", { text: " size " }), rowsIn, h("span", { text: "×" }), colsIn]),
    h("div", { class: "lpn-row" }, [sourceFig, editFig, resultFig]),
    h("div", { class: "lpn-help", style: "color:#888", text: SHORTCUTS }),
  );

  function setTool(tool) { model.set("tool", tool); model.save_changes(); }

  function drawEditor() {
    const cell = model.get("cell_size") || autoCell(grid, 240, 40); // bigger than a view: cells are targets
    drawGrid(canvas, grid, model.get("palette"), { cell, lines: model.get("lines") });
    editFig.querySelector(".lpn-size").textContent = `edited ${grid.rows}x${grid.cols}`;
  }

  function draw() {
    grid = decodeGrids(model.get("grid"))[0];
    const palette = model.get("palette"), cell = model.get("cell_size") || undefined;
    title.textContent = model.get("title");
    swatches.forEach((s, k) => s.setAttribute("aria-pressed", String(k === model.get("colour"))));
    paintBtn.setAttribute("aria-pressed", String(model.get("tool") === "paint"));
    fillBtn.setAttribute("aria-pressed", String(model.get("tool") === "fill"));
    undoBtn.disabled = !model.get("can_undo");
    redoBtn.disabled = !model.get("can_redo");
    const source = decodeGrids(model.get("source"))[0];
    copyBtn.style.display = source ? "" : "none";
    const sourceCaption = source ? `input ${source.rows}x${source.cols}` : "";
    sourceFig.replaceChildren(source ? figure(source, palette, sourceCaption, { cell, role: "source" }) : "");
    const result = decodeGrids(model.get("result"))[0];
    const caption = model.get("result_caption");
    resultFig.replaceChildren(result || caption
      ? (result ? figure(result, palette, caption, { cell, role: "result" }) : h("div", { class: "wrong", text: caption }))
      : "");
    rowsIn.value = grid.rows; colsIn.value = grid.cols;
    drawEditor();
  }

  function strokeAt(event) {
    const at = cellAt(canvas, event);
    if (!at || stroke.cells.has(`${at}`)) return;
    stroke.cells.set(`${at}`, at);
    grid.cells[at[0] * grid.cols + at[1]] = stroke.colour;
    drawEditor();
  }

  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  canvas.addEventListener("mousedown", (event) => {
    event.preventDefault();
    root.focus();
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
    if (event.target instanceof HTMLInputElement) return;
    const key = event.key.toLowerCase(), ctrl = event.ctrlKey || event.metaKey;
    let handled = true;
    if (ctrl && key === "z") send(event.shiftKey ? "redo" : "undo");
    else if (ctrl && key === "y") send("redo");
    else if (ctrl || event.altKey) handled = false;
    else if (/^[0-9]$/.test(key)) { model.set("colour", Number(key)); model.save_changes(); }
    else if (key === "p" || key === "b") setTool("paint");
    else if (key === "f") setTool("fill");
    else if (key === "c" && model.get("source").byteLength) send("copy_input");
    else if (key === "delete" || key === "backspace") send("clear");
    else if (key === "g") toggleLines();
    else handled = false;
    if (handled) event.preventDefault();
  });

  draw();
  const redraw = batched(draw);
  for (const name of ["grid", "source", "result", "result_caption", "colour", "tool", "can_undo", "can_redo",
                      "lines", "cell_size", "palette", "title"]) model.on(`change:${name}`, redraw);
  return () => window.removeEventListener("mouseup", finish);
}

export default { render: renderGridEditor };
