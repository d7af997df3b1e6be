// Search comparison: one chart of best-so-far log p against decoder evaluations, a table, and
// each method's attempts beside the truth.

function renderSearchComparison({ model, el }) {
  const root = h("div", { class: "lpn-widget lpn-search-comparison" });
  el.append(root);
  isolateKeys(root);
  addStyle(root, `
.lpn-search-comparison table { border-collapse: collapse; margin: 6px 0; }
.lpn-search-comparison td, .lpn-search-comparison th { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: left; }
`);
  const logBox = h("input", { type: "checkbox" });
  logBox.addEventListener("change", () => { model.set("log_x", logBox.checked); model.save_changes(); });
  const chartBox = h("div"), table = h("table"), body = h("div");
  root.append(chartBox, h("label", {}, [logBox, " log scale of evaluations"]), table, body);

  function draw() {
    logBox.checked = model.get("log_x");
    chartBox.replaceChildren(lineChart(model.get("curves"), {
      width: 480, height: 220, title: "best log p so far", xLabel: "decoder evaluations", logX: model.get("log_x") }));
    const mark = { correct: "✓", wrong: "✗", shape: "✗ shape", "?": "?" };
    table.replaceChildren(
      h("tr", {}, ["method", "decoder evaluations", "best log p", "attempts"].map((t) => h("th", { text: t }))),
      ...model.get("stats").map((row) => h("tr", { "data-label": row.label }, [
        h("td", { text: row.label }), h("td", { text: String(row.evals) }), h("td", { text: niceNumber(row.best) }),
        h("td", { text: row.verdicts.map((v) => mark[v] || v).join(" ") }),
      ])),
    );
    body.replaceChildren();
    drawSections(body, decodeGrids(model.get("grids")), model.get("sections"), model.get("palette"));
  }

  draw();
  const redraw = batched(draw);
  for (const name of ["curves", "stats", "grids", "sections", "log_x", "palette"]) model.on(`change:${name}`, redraw);
}

export default { render: renderSearchComparison };
