// Training dashboard: one chart per metric group, drawn from the history list, and the latest
// sample predictions.

function renderTrainingDashboard({ model, el }) {
  const root = h("div", { class: "lpn-widget lpn-training-dashboard" });
  el.append(root);
  addStyle(root, ".lpn-training-dashboard .lpn-charts { display: flex; flex-wrap: wrap; gap: 8px; }");
  const status = h("div", { "data-role": "status" });
  const charts = h("div", { class: "lpn-charts" });
  const samples = h("div");
  root.append(status, charts, samples);

  function drawCharts() {
    status.textContent = model.get("status");
    const history = model.get("history");
    const steps = history.map((r) => r.step);
    charts.replaceChildren(...model.get("groups").map(([title, names]) =>
      lineChart(names.map((k) => ({ label: k, x: steps, y: history.map((r) => (k in r ? r[k] : NaN)) })),
                { title, xLabel: "step", width: 300, height: 150 })));
  }

  function drawSamples() {
    samples.replaceChildren();
    const sections = model.get("sections");
    if (sections.length) samples.append(h("div", { text: "sample predictions (test input at the mean latent)" }));
    drawSections(samples, decodeGrids(model.get("grids")), sections, model.get("palette"), { target: 80 });
  }

  drawCharts(); drawSamples();
  const redrawCharts = batched(drawCharts), redrawSamples = batched(drawSamples);
  for (const name of ["history", "groups", "status"]) model.on(`change:${name}`, redrawCharts);
  for (const name of ["grids", "sections", "palette"]) model.on(`change:${name}`, redrawSamples);
}

export default { render: renderTrainingDashboard };
