// Task builder: the pairs as thumbnails (click one to paint it), the painting surface (paint.js)
// for the selected grid, ARC JSON out and in, and "solve" with its attempts, objective and replay.
// Python owns the task and its history; every button sends a command and redraws what comes back.

const BUILDER_CSS = `
.lpn-task-builder .lpn-builder-body { display: flex; gap: 24px; align-items: flex-start; flex-wrap: wrap; }
.lpn-task-builder .lpn-pairs .lpn-row { align-items: center; }
.lpn-task-builder .lpn-pairs canvas.lpn-grid { cursor: pointer; }
.lpn-task-builder .lpn-pairs canvas.lpn-grid.lpn-selected { outline: 3px solid #0074D9; outline-offset: 2px; }
.lpn-task-builder .lpn-pair-buttons button { padding: 0 5px; }
.lpn-task-builder textarea { width: 100%; max-width: 640px; height: 6em; font-family: monospace; font-size: 11px; }
.lpn-task-builder .lpn-message { color: #c62828; white-space: pre-wrap; }
.lpn-task-builder .lpn-solve .lpn-panel { display: flex; gap: 16px; align-items: flex-start; flex-wrap: wrap; }
.lpn-task-builder input[type=range] { width: 200px; }
`;

function renderTaskBuilder({ model, el }) {
  const root = h("div", { class: "lpn-widget lpn-task-builder" });
  el.append(root);
  addStyle(root, PAINT_CSS + BUILDER_CSS);
  const send = (op, args = {}) => model.send({ op, ...args });
  const surface = paintSurface(model, root, { canCopy: () => (model.get("selected") || []).length > 0 });
  const button = (text, title, onclick, attrs = {}) => h("button", { title, onclick, ...attrs, text });

  const pairsBox = h("div", { class: "lpn-pairs" });
  const editingLabel = h("div", { "data-role": "editing" });
  const editor = h("div", { class: "lpn-editor" }, [editingLabel, surface.swatchBar, surface.toolBar, surface.figure]);
  const message = h("div", { class: "lpn-message", "data-role": "message" });
  const jsonArea = h("textarea", { "data-role": "json", spellcheck: "false",
                                   placeholder: "ARC JSON: export shows the task here; paste a task and press import" });
  const download = () => {
    const url = URL.createObjectURL(new Blob([model.get("json_text")], { type: "application/json" }));
    const a = h("a", { href: url, download: `${model.get("task_name") || "task"}.json` });
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  root.append(
    h("div", { class: "lpn-toolbar" }, [
      button("+ train pair", "add a train pair", () => send("add_pair", { split: "train" }), { "data-action": "add-train" }),
      button("+ test pair", "add a test pair", () => send("add_pair", { split: "test" }), { "data-action": "add-test" }),
    ]),
    h("div", { class: "lpn-builder-body" }, [pairsBox, editor]),
    message,
    h("div", { class: "lpn-toolbar" }, [
      button("export JSON", "show the task as ARC JSON below", () => { jsonArea.value = model.get("json_text"); },
             { "data-action": "export" }),
      button("download", "save the task as a .json file", download, { "data-action": "download" }),
      button("import JSON", "replace the task with the JSON pasted below",
             () => send("load", { source: jsonArea.value }), { "data-action": "import" }),
    ]),
    jsonArea,
  );

  const solveBox = h("div", { class: "lpn-solve" });
  const methodSelect = h("select", { "data-role": "method", title: "test-time method (lpn.methods)" });
  const stepsIn = h("input", { type: "number", min: 0, title: "steps", "data-role": "steps" });
  const solveBtn = button("solve", "run the method on the train pairs", () => {
    solveBtn.disabled = true;
    statusLine.textContent = "solving...";
    send("solve");
  }, { "data-action": "solve" });
  const statusLine = h("div", { "data-role": "status" });
  const resultsBox = h("div", { "data-role": "results" });
  const chartBox = h("div"), replayBox = h("div");
  methodSelect.addEventListener("change", () => { model.set("method", methodSelect.value); model.save_changes(); });
  stepsIn.addEventListener("change", () => { model.set("steps", Number(stepsIn.value)); model.save_changes(); });
  solveBox.append(h("h4", { text: "solve" }),
                  h("div", { class: "lpn-toolbar" }, [methodSelect, h("span", { text: " steps " }), stepsIn, solveBtn]),
                  statusLine, resultsBox, h("div", { class: "lpn-panel" }, [chartBox, replayBox]));
  root.append(solveBox);

  function allGrids() {
    const grids = decodeGrids(model.get("grids"));
    const nTrain = model.get("num_train");
    const pair = (k) => ({ input: grids[2 * k], output: grids[2 * k + 1] });
    return {
      train: Array.from({ length: nTrain }, (_, i) => pair(i)),
      test: Array.from({ length: model.get("num_test") }, (_, j) => pair(nTrain + j)),
    };
  }

  function thumbnail(grid, split, index, side, selected) {
    const caption = grid ? `${side} ${grid.rows}x${grid.cols}` : `${side} unknown (click to give)`;
    const fig = figure(grid, model.get("palette"), caption, { cell: grid ? autoCell(grid, 64, 16) : 12 });
    const canvas = fig.firstChild;
    Object.assign(canvas.dataset, { split, index, side });
    if (selected) canvas.classList.add("lpn-selected");
    canvas.addEventListener("click", () => send("select", { split, index, side }));
    return fig;
  }

  function pairRow(split, index, pair, count, selected) {
    const is = (side) => selected[0] === split && selected[1] === index && selected[2] === side;
    const buttons = [
      button("↑", "move up", () => send("move_pair", { split, index, offset: -1 }), { "data-action": "up" }),
      button("↓", "move down", () => send("move_pair", { split, index, offset: 1 }), { "data-action": "down" }),
      button("→", "copy the input to the output", () => { send("select", { split, index, side: "input" }); send("copy_input"); },
             { "data-action": "copy" }),
      button("✕", "delete this pair", () => send("delete_pair", { split, index }), { "data-action": "delete" }),
    ];
    if (split === "test" && pair.output) {
      buttons.push(button("?", "make the output unknown", () => send("drop_output", { index }), { "data-action": "unknown" }));
    }
    buttons[0].disabled = index === 0;
    buttons[1].disabled = index === count - 1;
    const label = split === "train" ? `pair ${index + 1}` : `test ${index + 1}`;
    return h("div", { class: "lpn-row", "data-split": split, "data-index": index }, [
      h("span", { class: "lpn-label", text: label }),
      thumbnail(pair.input, split, index, "input", is("input")),
      thumbnail(pair.output, split, index, "output", is("output")),
      h("span", { class: "lpn-pair-buttons" }, buttons),
    ]);
  }

  function drawTask() {
    const pairs = allGrids(), selected = model.get("selected") || [];
    const rows = [];
    for (const split of ["train", "test"]) {
      rows.push(h("h4", { text: split === "train" ? `train pairs (${pairs.train.length})` : `test pairs (${pairs.test.length})` }));
      pairs[split].forEach((pair, i) => rows.push(pairRow(split, i, pair, pairs[split].length, selected)));
    }
    pairsBox.replaceChildren(...rows);
    editor.style.display = selected.length ? "" : "none";
    if (selected.length) {
      const [split, index, side] = selected;
      editingLabel.textContent = `editing ${split === "train" ? "pair" : "test"} ${index + 1} ${side}`;
      surface.draw(pairs[split][index][side]);
    }
    message.textContent = model.get("message");
    if (document.activeElement !== jsonArea && jsonArea.value) jsonArea.value = model.get("json_text");
  }

  let frames = [];
  const slider = h("input", { type: "range", min: 0, step: 1, "data-role": "slider" });
  const frameBox = h("div");
  replayBox.append(h("div", { text: "the output on test 1 along the search path" }), slider, frameBox);
  slider.addEventListener("input", () => drawStep(Number(slider.value)));

  function drawStep(k) {
    const steps = model.get("frame_steps"), objective = model.get("objective");
    chartBox.replaceChildren(lineChart([{ label: model.get("objective_label"), x: objective.map((_, i) => i), y: objective }],
                                       { title: "objective by step", xLabel: "step", marker: steps.length ? steps[k] : null }));
    replayBox.style.display = frames.length ? "" : "none";
    if (!frames.length) return;
    slider.max = frames.length - 1;
    slider.value = k;
    const fig = figure(frames[k], model.get("palette"), `output at step ${steps[k]}`, { role: "frame" });
    fig.firstChild.dataset.step = steps[k];
    frameBox.replaceChildren(fig);
  }

  function drawSolve() {
    const methods = model.get("methods");
    solveBox.style.display = methods.length ? "" : "none";
    if (!methods.length) return;
    methodSelect.replaceChildren(...methods.map((m) => h("option", { value: m, text: m })));
    methodSelect.value = model.get("method");
    stepsIn.value = model.get("steps");
    const problem = model.get("problem");
    solveBtn.disabled = Boolean(problem);
    statusLine.textContent = problem || model.get("solve_status");
    statusLine.className = problem ? "wrong" : "";
    resultsBox.replaceChildren();
    drawSections(resultsBox, decodeGrids(model.get("result_grids")), model.get("result_sections"), model.get("palette"));
    frames = decodeGrids(model.get("frames"));
    if (model.get("objective").length) drawStep(Math.max(0, frames.length - 1));
    else { chartBox.replaceChildren(); replayBox.style.display = "none"; }
  }

  drawTask();
  drawSolve();
  const redrawTask = batched(drawTask), redrawSolve = batched(drawSolve);
  for (const name of ["grids", "num_train", "num_test", "selected", "message", "json_text", "colour", "tool",
                      "can_undo", "can_redo", "lines", "cell_size", "palette"]) model.on(`change:${name}`, redrawTask);
  for (const name of ["methods", "method", "steps", "problem", "solve_status", "result_grids", "result_sections",
                      "objective", "frames", "palette"]) model.on(`change:${name}`, redrawSolve);
  return surface.dispose;
}

export default { render: renderTaskBuilder };
