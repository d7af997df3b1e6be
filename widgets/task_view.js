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
    model.get("sections").forEach((section, s) => {
      const block = h("div", { class: "lpn-section", "data-section": s });
      block.append(h("h4", { text: section.title }));
      for (const row of section.rows) {
        const line = h("div", { class: "lpn-row" }, h("span", { class: "lpn-label", text: row.label }));
        for (const item of row.items) {
          const mask = item.mismatch !== undefined ? grids[item.mismatch] : null;
          const grid = grids[item.grid];
          const cell = model.get("cell_size") || (grid && autoCell(grid, gallery ? 60 : 120));
          const fig = figure(grid, palette, item.caption, { cell, mask, lines, status: item.status });
          fig.firstChild.dataset.grid = item.grid;
          line.append(fig);
        }
        block.append(line);
      }
      fragment.append(block);
    });
    body.replaceChildren(fragment);
    root.classList.toggle("lpn-gallery", gallery);
    root.dataset.renderMs = (performance.now() - start).toFixed(1);
  }

  draw();
  const redraw = batched(draw);
  for (const name of ["grids", "sections", "palette", "cell_size", "lines"]) model.on(`change:${name}`, redraw);
}

export default { render: renderTaskView };
