// Latent explorer: a heat map of log p over a plane of latents. A click sets `query`; Python
// decodes that latent and sends back `decoded`. Markers, the search path and the query are SVG
// over the heat-map canvas.

const EXPLORER_CSS = `
.lpn-latent-explorer .lpn-map { position: relative; cursor: crosshair; }
.lpn-latent-explorer .lpn-map svg { position: absolute; left: 0; top: 0; pointer-events: none; }
.lpn-latent-explorer .lpn-panel { display: flex; gap: 16px; align-items: flex-start; flex-wrap: wrap; }
.lpn-latent-explorer .lpn-readout { color: #555; min-height: 1.2em; }
.lpn-latent-explorer input[type=number] { width: 5em; }
`;

function renderLatentExplorer({ model, el }) {
  const root = h("div", { class: "lpn-widget lpn-latent-explorer" });
  el.append(root);
  isolateKeys(root);
  addStyle(root, EXPLORER_CSS);
  const heatCanvas = h("canvas", { "data-role": "heat" });
  const overlay = s("svg");
  const map = h("div", { class: "lpn-map" }, [heatCanvas, overlay]);
  const legend = h("div", { class: "lpn-readout" });
  const readout = h("div", { class: "lpn-readout", "data-role": "readout" });
  const specRow = h("div", { class: "lpn-row" });
  const queryRow = h("div", { class: "lpn-row" });
  const steps = h("input", { type: "number", min: 1, max: 2000, title: "search steps" });
  const lr = h("input", { type: "number", step: "0.01", min: 0, title: "learning rate" });
  const search = () => {
    status.textContent = "searching (the first search compiles)...";
    model.send({ op: "search" });
  };
  const searchBtn = h("button", { "data-action": "search", text: "gradient search", onclick: search });
  const status = h("div", { class: "lpn-readout", "data-role": "status" });
  steps.addEventListener("change", () => { model.set("search_steps", Number(steps.value)); model.save_changes(); });
  lr.addEventListener("change", () => { model.set("search_lr", Number(lr.value)); model.save_changes(); });
  root.append(h("div", { class: "lpn-panel" }, [
    h("div", {}, [map, legend, readout]),
    h("div", {}, [h("div", { text: "specification (train pairs)" }), specRow,
                  h("div", { text: "test input → output at the chosen latent · truth" }), queryRow,
                  h("div", { class: "lpn-toolbar" }, [searchBtn, h("span", { text: "steps" }), steps,
                                                     h("span", { text: "lr" }), lr]), status]),
  ]));

  const side = () => model.get("size");
  const toPixel = ([u, v]) => {
    const [u0, u1, v0, v1] = model.get("extent");
    return [((u - u0) / (u1 - u0)) * side(), ((v1 - v) / (v1 - v0)) * side()];
  };
  const toPlane = (x, y) => {
    const [u0, u1, v0, v1] = model.get("extent");
    return [u0 + (x / side()) * (u1 - u0), v1 - (y / side()) * (v1 - v0)];
  };

  function drawHeat() {
    const g = model.get("resolution"), n = side();
    const rgba = model.get("heat_rgba");
    heatCanvas.width = heatCanvas.height = n;
    heatCanvas.style.width = heatCanvas.style.height = `${n}px`;
    const ctx = heatCanvas.getContext("2d");
    if (!rgba || rgba.byteLength !== g * g * 4) return;
    const pixels = new Uint8ClampedArray(rgba.buffer.slice(rgba.byteOffset, rgba.byteOffset + rgba.byteLength));
    const image = new ImageData(pixels, g, g);
    const small = document.createElement("canvas");
    small.width = small.height = g;
    small.getContext("2d").putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(small, 0, 0, n, n);
    const [lo, hi] = model.get("heat_range");
    const [a, b] = model.get("axes");
    legend.textContent = `${a} →, ${b} ↑ · colour: log p of the train pairs, `
      + `${niceNumber(lo)} (dark) … ${niceNumber(hi)} (yellow)`;
  }

  function drawOverlay() {
    const n = side();
    overlay.setAttribute("width", n); overlay.setAttribute("height", n);
    overlay.replaceChildren();
    const path = model.get("path");
    if (path.length) {
      overlay.append(s("polyline", { points: path.map((p) => toPixel(p).join(",")).join(" "), fill: "none",
                                     stroke: "#ffffff", "stroke-width": 2, class: "lpn-path", "data-points": path.length }));
      const [x, y] = toPixel(path[0]);
      overlay.append(s("circle", { cx: x, cy: y, r: 3, fill: "#ffffff" }));
    }
    for (const m of model.get("markers")) {
      const [x, y] = toPixel(m.uv);
      const marker = s("circle", { cx: x, cy: y, r: m.kind === "mean" ? 6 : 4, fill: m.kind === "mean" ? "#FF4136" : "#ffffff",
                                   stroke: "#000", class: `lpn-marker-${m.kind}`, "data-label": m.label });
      marker.append(s("title", { text: m.label }));
      overlay.append(marker, s("text", { x: x + 7, y: y - 5, "font-size": 10, fill: "#fff", stroke: "#000",
                                          "stroke-width": 0.3, text: m.label }));
    }
    const query = model.get("query");
    if (query.length === 2) {
      const [x, y] = toPixel(query);
      overlay.append(s("path", { d: `M${x - 7} ${y}H${x + 7}M${x} ${y - 7}V${y + 7}`, stroke: "#FF851B",
                                 "stroke-width": 3, class: "lpn-query" }));
    }
  }

  function drawGrids() {
    const palette = model.get("palette");
    const spec = decodeGrids(model.get("spec"));
    const [input, truth] = spec.slice(-2);
    const pairs = spec.slice(0, -2);
    specRow.replaceChildren(...pairs.map((g, i) => figure(g, palette, i % 2 ? `output ${i / 2 + 0.5}` : `input ${i / 2 + 1}`,
                                                          { cell: autoCell(g, 64), role: "spec" })));
    const decoded = decodeGrids(model.get("decoded"))[0];
    const mask = decodeGrids(model.get("decoded_mask"))[0] || null;
    queryRow.replaceChildren(
      figure(input, palette, "test input", { role: "input" }),
      figure(decoded, palette, model.get("decoded_caption"), { role: "decoded", mask }),
      figure(truth, palette, "truth", { role: "truth" }),
    );
    steps.value = model.get("search_steps"); lr.value = model.get("search_lr");
    status.textContent = model.get("status");
  }

  heatCanvas.addEventListener("click", (event) => {
    const box = heatCanvas.getBoundingClientRect();
    model.set("query", toPlane(event.clientX - box.left, event.clientY - box.top));
    model.save_changes();
    drawOverlay();
  });
  heatCanvas.addEventListener("mousemove", (event) => {
    const box = heatCanvas.getBoundingClientRect();
    const x = event.clientX - box.left, y = event.clientY - box.top;
    const [u, v] = toPlane(x, y);
    const g = model.get("resolution"), heat = model.get("heat");
    const i = Math.min(g - 1, Math.floor((y / side()) * g)) * g + Math.min(g - 1, Math.floor((x / side()) * g));
    const value = heat && heat.byteLength === g * g * 4 ? heat.getFloat32(4 * i, true) : NaN;
    readout.textContent = `(${u.toFixed(2)}, ${v.toFixed(2)}) log p ≈ ${niceNumber(value)}`;
  });

  const redrawAll = batched(() => { drawHeat(); drawOverlay(); drawGrids(); });
  redrawAll();
  for (const name of ["extent", "axes", "resolution", "heat_rgba", "heat_range", "markers", "path", "query", "spec",
                      "decoded", "decoded_mask", "decoded_caption", "search_steps", "search_lr", "status", "size", "palette"])
    model.on(`change:${name}`, redrawAll);
}

export default { render: renderLatentExplorer };
