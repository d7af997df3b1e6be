// Task view: sections of rows of grids, drawn from the layout that task_view.py sends.

// Several tasks wrap side by side as cards; one task reads top to bottom.
const GALLERY_CSS = `
.lpn-task-view.lpn-gallery .lpn-body { display: flex; flex-wrap: wrap; gap: 8px 20px; align-items: flex-start; }
.lpn-task-view.lpn-gallery .lpn-section { border: 1px solid #ddd; border-radius: 4px; padding: 2px 8px; }
.lpn-task-view.lpn-gallery .lpn-label { width: auto; }
`;

function renderTaskView({ model, el }) {
  const root = h("div", { class: "lpn-widget lpn-task-view" });
  el.append(root);
  addStyle(root, GALLERY_CSS);
  const body = h("div", { class: "lpn-body" });
  root.append(body);

  function draw() {
    const start = performance.now();
    const grids = decodeGrids(model.get("grids"));
    const palette = model.get("palette");
    const gallery = model.get("sections").length > 1;
    const lines = model.get("lines");
    const fragment = document.createDocumentFragment();
    drawSections(fragment, grids, model.get("sections"), palette,
                 { cellSize: model.get("cell_size"), lines, target: gallery ? 60 : 120 });
    body.replaceChildren(fragment);
    root.classList.toggle("lpn-gallery", gallery);
    root.dataset.renderMs = (performance.now() - start).toFixed(1);
  }

  draw();
  const redraw = batched(draw);
  for (const name of ["grids", "sections", "palette", "cell_size", "lines"]) model.on(`change:${name}`, redraw);
}

export default { render: renderTaskView };
