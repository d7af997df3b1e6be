// Search comparison: one chart of log p per given pair against decoder evaluations (LPN rows: best
// so far; TTT rows: minus the leave-one-out loss at each step), a note saying which is which, a
// table, and each method's attempts beside the truth.

function renderSearchComparison({ model, el }) {
  const root = h("div", { class: "lpn-widget lpn-search-comparison" });
  el.append(root);
  isolateKeys(root);
  addStyle(root, `
.lpn-search-comparison table { border-collapse: collapse; margin: 6px 0; }
.lpn-search-comparison td, .lpn-search-comparison th { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: left; }
.lpn-search-comparison .lpn-note { color: #555; max-width: 640px; margin: 2px 0 4px; }
`);
  const logBox = h("input", { type: "checkbox" });
  logBox.addEventListener("change", () => { model.set("log_x", logBox.checked); model.save_changes(); });
  const chartBox = h("div"), note = h("div", { class: "lpn-note", "data-role": "note" }), table = h("table"),
    body = h("div");
  root.append(chartBox, note, h("label", {}, [logBox, " log scale of evaluations"]), table, body);

  function draw() {
    logBox.checked = model.get("log_x");
    chartBox.replaceChildren(lineChart(model.get("curves"), {
      width: 480, height: 220, title: "mean log p per given pair", xLabel: "decoder evaluations",
      logX: model.get("log_x") }));
    note.textContent = model.get("note");
    const mark = { correct: "✓", wrong: "✗", shape: "✗ shape", "?": "?" };
    table.replaceChildren(
      h("tr", {}, ["method", "kind", "decoder evaluations", "log p per pair", "attempts"]
        .map((t) => h("th", { text: t }))),
      ...model.get("stats").map((row) => h("tr", { "data-label": row.label, "data-kind": row.kind }, [
        h("td", { text: row.label }), h("td", { text: row.kind }), h("td", { text: String(row.evals) }),
        h("td", { text: niceNumber(row.log_p) }),
        h("td", { text: row.verdicts.map((v) => mark[v] || v).join(" ") + (row.note ? ` (${row.note})` : "") }),
      ])),
    );
    body.replaceChildren();
    drawSections(body, decodeGrids(model.get("grids")), model.get("sections"), model.get("palette"));
  }

  draw();
  const redraw = batched(draw);
  for (const name of ["curves", "stats", "note", "grids", "sections", "log_x", "palette"]) model.on(`change:${name}`, redraw);
}

export default { render: renderSearchComparison };
