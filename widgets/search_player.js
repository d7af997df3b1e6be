// Search player: every frame arrived at once; the slider and play button never call the kernel.

const PLAYER_CSS = `
.lpn-search-player .lpn-panel { display: flex; gap: 16px; align-items: flex-start; flex-wrap: wrap; }
.lpn-search-player input[type=range] { width: 240px; }
`;

function pathPlot(path, cloud, extent, step, axes, size = 200) {
  const [u0, u1, v0, v1] = extent;
  const px = ([u, v]) => [((u - u0) / (u1 - u0)) * size, ((v1 - v) / (v1 - v0)) * size];
  const svg = s("svg", { width: size, height: size + 14, class: "lpn-path-plot" });
  svg.append(s("rect", { width: size, height: size, fill: "#fafafa", stroke: "#ccc" }));
  for (const p of cloud) {
    const [x, y] = px(p);
    svg.append(s("circle", { cx: x, cy: y, r: 1.5, fill: "#bbb" }));
  }
  svg.append(s("polyline", { points: path.map((p) => px(p).join(",")).join(" "), fill: "none", stroke: "#0074D9",
                             "stroke-width": 1.5, class: "lpn-path", "data-points": path.length }));
  const [sx, sy] = px(path[0]);
  svg.append(s("circle", { cx: sx, cy: sy, r: 3, fill: "#0074D9" }));
  const [cx, cy] = px(path[step]);
  svg.append(s("circle", { cx, cy, r: 5, fill: "#FF851B", stroke: "#000", class: "lpn-current", "data-step": step }));
  svg.append(s("text", { x: 2, y: size + 11, "font-size": 10, text: `path in the (${axes[0]}, ${axes[1]}) plane` }));
  return svg;
}

function renderSearchPlayer({ model, el }) {
  const root = h("div", { class: "lpn-widget lpn-search-player" });
  el.append(root);
  isolateKeys(root);
  addStyle(root, PLAYER_CSS);
  const title = h("h4");
  const slider = h("input", { type: "range", min: 0, step: 1, "data-role": "slider" });
  const playBtn = h("button", { "data-action": "play", text: "▶ play" });
  const label = h("span", { "data-role": "step-label" });
  const frameBox = h("div", { class: "lpn-row" });
  const chartBox = h("div"), pathBox = h("div"), attemptsBox = h("div");
  root.append(title, h("div", { class: "lpn-toolbar" }, [playBtn, slider, label]),
              h("div", { class: "lpn-panel" }, [frameBox, chartBox, pathBox]),
              h("div", { text: "final attempts (best and second-best latents)" }), attemptsBox);

  let frames = [], input = null, timer = null;
  let step = model.get("step");

  function drawStep() {
    const scores = model.get("scores");
    step = Math.max(0, Math.min(step, frames.length - 1));
    slider.max = frames.length - 1;
    slider.value = step;
    label.textContent = `step ${step} / ${frames.length - 1} · log p = ${niceNumber(scores[step])}`;
    const palette = model.get("palette");
    frameBox.replaceChildren(
      figure(input, palette, "test input", { role: "input" }),
      figure(frames[step], palette, `output at step ${step}`, { role: "frame" }),
    );
    frameBox.querySelector("canvas[data-role=frame]").dataset.step = step;
    chartBox.replaceChildren(lineChart([{ label: "log p", x: scores.map((_, i) => i), y: scores }],
                                       { title: "objective", xLabel: "step", marker: step }));
    pathBox.replaceChildren(pathPlot(model.get("path"), model.get("cloud"), model.get("extent"), step, model.get("axes")));
  }

  function drawAll() {
    frames = decodeGrids(model.get("frames"));
    input = decodeGrids(model.get("test_input"))[0];
    title.textContent = model.get("title");
    const grids = decodeGrids(model.get("attempt_grids"));
    attemptsBox.replaceChildren();
    drawSections(attemptsBox, grids, model.get("attempt_sections"), model.get("palette"));
    step = model.get("step");
    drawStep();
  }

  function setStep(next, sync = true) {
    step = next;
    drawStep();
    if (sync) { model.set("step", step); model.save_changes(); }
  }

  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
    playBtn.textContent = "▶ play";
  }

  slider.addEventListener("input", () => { stop(); setStep(Number(slider.value)); });
  playBtn.addEventListener("click", () => {
    if (timer) return stop();
    if (step >= frames.length - 1) setStep(0);
    playBtn.textContent = "❚❚ pause";
    timer = setInterval(() => {
      if (step >= frames.length - 1) return stop();
      setStep(step + 1);
    }, model.get("interval_ms"));
  });

  drawAll();
  const redraw = batched(drawAll);
  for (const name of ["frames", "test_input", "scores", "path", "cloud", "extent", "axes", "attempt_grids",
                      "attempt_sections", "title", "palette"]) model.on(`change:${name}`, redraw);
  model.on("change:step", () => { if (model.get("step") !== step) { step = model.get("step"); drawStep(); } });
  return stop;
}

export default { render: renderSearchPlayer };
