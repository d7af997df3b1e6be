// Grid editor: the painting surface (paint.js) between the input it may copy and the output of
// `predict`. Python owns the grid and its history and sends the result back in `grid`.

function renderGridEditor({ model, el }) {
  const root = h("div", { class: "lpn-widget lpn-grid-editor" });
  el.append(root);
  addStyle(root, PAINT_CSS);
  const surface = paintSurface(model, root, { canCopy: () => model.get("source").byteLength > 0 });
  const title = h("div", { class: "lpn-title" });
  const sourceFig = h("div"), editFig = h("div", {}, surface.figure), resultFig = h("div");
  root.append(
    title, surface.swatchBar, surface.toolBar,
    h("div", { class: "lpn-row" }, [sourceFig, editFig, resultFig]),
    h("div", { class: "lpn-help", style: "color:#888", text: SHORTCUTS }),
  );

  function draw() {
    const palette = model.get("palette"), cell = model.get("cell_size") || undefined;
    title.textContent = model.get("title");
    const source = decodeGrids(model.get("source"))[0];
    const sourceCaption = source ? `input ${source.rows}x${source.cols}` : "";
    sourceFig.replaceChildren(source ? figure(source, palette, sourceCaption, { cell, role: "source" }) : "");
    const result = decodeGrids(model.get("result"))[0];
    const caption = model.get("result_caption");
    resultFig.replaceChildren(result || caption
      ? (result ? figure(result, palette, caption, { cell, role: "result" }) : h("div", { class: "wrong", text: caption }))
      : "");
    surface.draw(decodeGrids(model.get("grid"))[0]);
  }

  draw();
  const redraw = batched(draw);
  for (const name of ["grid", "source", "result", "result_caption", "colour", "tool", "can_undo", "can_redo",
                      "lines", "cell_size", "palette", "title"]) model.on(`change:${name}`, redraw);
  return surface.dispose;
}

export default { render: renderGridEditor };
