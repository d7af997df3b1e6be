"""Latent explorer: a plane of latent space coloured by how well each latent explains the given
pairs; a click decodes that latent on the test input (the authors' web demo, paper §6.2, for any
model and task).

The heat map is `log_prob` of the train pairs over a G x G raster of the plane (projection.py),
sent once as an RGBA image plus the float values for the hover read-out. A click sets `query`
(plane coordinates); Python decodes the latent there and sends the grid back. "Gradient search"
runs `lpn.search.gradient_search` from the current latent and draws its path (its first run
compiles). Decoding and scoring are compiled when the widget is built, so a first click answers
at once.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import traitlets
from matplotlib import colormaps

from lpn.grids import Task

from ._base import GridWidget, esm
from .encoding import encode_grid, encode_grids
from .layout import judge
from .projection import Plane, fit_plane, grid_points, square_extent
from .static import grid_svg, missing_svg
from .task_model import TaskModel


def colour_map(values, name: str = "viridis") -> tuple[bytes, list[float]]:
    """RGBA bytes of `values` under a matplotlib colour map, and the [low, high] it spans."""
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    scaled = np.clip((values - lo) / max(hi - lo, 1e-9), 0, 1)
    rgba = (colormaps[name](np.nan_to_num(scaled)) * 255).astype(np.uint8)
    return rgba.tobytes(), [lo, hi]


class LatentExplorer(GridWidget):
    _esm = esm("charts.js", "latent_explorer.js")
    extent = traitlets.List(traitlets.Float(), [-3.0, 3.0, -3.0, 3.0]).tag(sync=True)  # u0, u1, v0, v1
    axes = traitlets.List(traitlets.Unicode(), ["z₁", "z₂"]).tag(sync=True)
    resolution = traitlets.Int(32).tag(sync=True)
    heat_rgba = traitlets.Bytes(b"").tag(sync=True)  # G*G*4, row 0 at the top (largest v)
    heat = traitlets.Bytes(b"").tag(sync=True)  # float32 log-probabilities, same order
    heat_range = traitlets.List(traitlets.Float(), [0.0, 1.0]).tag(sync=True)
    markers = traitlets.List().tag(sync=True)  # [{"label", "kind", "uv"}]
    path = traitlets.List().tag(sync=True)  # [[u, v], ...] of the last search
    query = traitlets.List(traitlets.Float()).tag(sync=True)  # [u, v] of the decoded latent
    spec = traitlets.Bytes(b"").tag(sync=True)  # train inputs and outputs, then test input, truth
    decoded = traitlets.Bytes(b"").tag(sync=True)
    decoded_mask = traitlets.Bytes(b"").tag(sync=True)  # mismatch against the truth, if known
    decoded_caption = traitlets.Unicode("").tag(sync=True)
    search_steps = traitlets.Int(50, min=1, max=2000).tag(sync=True)
    search_lr = traitlets.Float(0.1).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    size = traitlets.Int(320).tag(sync=True)  # pixels of the heat map's side

    def __init__(
        self,
        model,
        task: Task,
        *,
        test_index: int = 0,
        resolution: int = 32,
        extent=None,
        plane: Plane | None = None,
        search_steps: int = 50,
        search_lr: float | None = None,
        key=None,
        **kwargs,
    ):
        super().__init__(
            resolution=resolution,
            search_steps=search_steps,
            search_lr=model.config.search_lr if search_lr is None else search_lr,
            **kwargs,
        )
        self.task_model = TaskModel(model, task, test_index)
        self.key, self.trace = key, None
        self.pair_latents, self.mean_latent = self.task_model.pair_latents()
        self.plane = plane or fit_plane(np.concatenate([self.pair_latents, self.mean_latent[None]]))
        self._fixed_extent = extent
        truth = self.task_model.query.output
        self.spec = encode_grids([g for p in task.train for g in p] + [self.task_model.query.input, truth])
        self._draw_plane()  # compiles scoring; showing the mean latent compiles decoding: a click is then instant
        self.on_msg(self._on_message)
        self.show_latent(self.mean_latent)

    @property
    def latent(self) -> np.ndarray:
        """The latent whose output is shown (H,)."""
        return self._latent.copy()

    @property
    def decoded_grid(self) -> np.ndarray:
        return self._decoded.copy()

    def select(self, u: float, v: float) -> np.ndarray:
        """Decodes the latent at plane point (u, v), as a click does; returns the grid."""
        self.query = [float(u), float(v)]
        return self.decoded_grid

    def show_latent(self, z_H) -> None:
        """Decodes latent `z_H` and marks it at its projection on the plane."""
        self._latent = np.asarray(z_H, np.float32)
        self._decoded = self.task_model.decode(self._latent)[0]
        score = float(self.task_model.score(self._latent)[0])
        verdict, _, mask = judge(self._decoded, self.task_model.query.output)
        u, v = (float(x) for x in self.plane.to_plane(self._latent))
        with self.hold_sync():
            self._showing = True
            self.query = [u, v]
            self._showing = False
            self.decoded = encode_grid(self._decoded)
            self.decoded_mask = b"" if mask is None else encode_grid(mask)
            self.decoded_caption = f"output at ({u:.2f}, {v:.2f}), log p = {score:.2f}{verdict}"

    @traitlets.observe("query")
    def _on_query(self, change) -> None:
        if not getattr(self, "_showing", False) and len(change["new"]) == 2:
            self.show_latent(self.plane.to_latent(np.asarray(change["new"], np.float32)))

    def search(self):
        """Gradient search from the shown latent; draws its path and shows its best latent."""
        self.status = "searching..."
        trace = self.task_model.gradient_search(
            self._latent, steps=self.search_steps, learning_rate=self.search_lr, key=self.key
        )
        self.trace = trace
        path_SH = trace.latents[:, 0]
        with self.hold_sync():  # the browser sees the new map, path and output at once
            if self.task_model.latent_dim > 2:  # the plane through the path and the task's latents
                self.plane = fit_plane(np.concatenate([path_SH, self.pair_latents, self.mean_latent[None]]))
                self._draw_plane()
            elif not self._fixed_extent and np.abs(self.plane.to_plane(path_SH)).max() > self.extent[1]:
                self._draw_plane()  # the path left the map: widen it
            self.path = self.plane.to_plane(path_SH).tolist()
            self.show_latent(trace.best)
            self.status = (
                f"{len(path_SH) - 1} steps: log p {float(trace.scores[0, 0]):.2f} → "
                f"{float(trace.best_score):.2f}, {int(trace.num_evals)} decoder evaluations"
            )
        return trace

    def _draw_plane(self) -> None:
        points = [self.pair_latents, self.mean_latent[None]]
        if self.trace is not None:
            points.append(self.trace.latents[:, 0])
        uv = self.plane.to_plane(np.concatenate(points))
        extent = list(self._fixed_extent or square_extent(uv))
        values = self.task_model.score(
            self.plane.to_latent(grid_points(extent, self.resolution)), chunk=min(self.resolution**2, 1024)
        ).astype(np.float32)
        rgba, value_range = colour_map(values)
        markers = [
            {"label": f"pair {i + 1}", "kind": "pair", "uv": p.tolist()}
            for i, p in enumerate(self.plane.to_plane(self.pair_latents))
        ]
        markers.append({"label": "mean", "kind": "mean", "uv": self.plane.to_plane(self.mean_latent).tolist()})
        with self.hold_sync():
            self.extent, self.axes = extent, list(self.plane.axes)
            self.heat_rgba, self.heat, self.heat_range = rgba, values.tobytes(), value_range
            self.markers, self.path = markers, []

    def _on_message(self, _widget, content, _buffers) -> None:
        if content.get("op") != "search":
            raise ValueError(f"unknown latent explorer command {content!r}")
        self.search()

    def to_html(self) -> str:
        """The heat map as an inline PNG with the markers, path and decoded output in SVG."""
        import matplotlib.pyplot as plt

        g, side = self.resolution, self.size
        image = np.frombuffer(self.heat_rgba, np.uint8).reshape(g, g, 4)
        buffer = io.BytesIO()
        plt.imsave(buffer, image, format="png")
        u0, u1, v0, v1 = self.extent

        def xy(uv):
            return (uv[0] - u0) / (u1 - u0) * side, (v1 - uv[1]) / (v1 - v0) * side

        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{side}" height="{side}">',
            f'<image width="{side}" height="{side}" preserveAspectRatio="none" style="image-rendering:pixelated" '
            f'href="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}"/>',
        ]
        if self.path:
            points = " ".join("{:.1f},{:.1f}".format(*xy(p)) for p in self.path)
            parts.append(f'<polyline points="{points}" fill="none" stroke="#fff" stroke-width="2"/>')
        for m in self.markers:
            x, y = xy(m["uv"])
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{"#FF4136" if m["kind"] == "mean" else "#fff"}" '
                f'stroke="#000"><title>{m["label"]}</title></circle>'
            )
        x, y = xy(self.query)
        parts.append(
            f'<path d="M{x - 6:.1f} {y:.1f}H{x + 6:.1f}M{x:.1f} {y - 6:.1f}V{y + 6:.1f}" '
            'stroke="#FF851B" stroke-width="2"/></svg>'
        )
        truth = self.task_model.query.output
        grids = [
            grid_svg(self.task_model.query.input),
            grid_svg(self._decoded),
            missing_svg() if truth is None else grid_svg(truth),
        ]
        figures = "".join(
            f"<figure style='margin:0'>{g}<figcaption>{c}</figcaption></figure>"
            for g, c in zip(grids, ["test input", self.decoded_caption, "truth"])
        )
        return (
            f'<div class="lpn-static" style="display:flex;gap:16px;align-items:flex-start;font:12px sans-serif">'
            f'<figure style="margin:0">{"".join(parts)}<figcaption>{self.axes[0]} → , {self.axes[1]} ↑; log p '
            f"{self.heat_range[0]:.1f} … {self.heat_range[1]:.1f}</figcaption></figure>{figures}</div>"
        )


def explore_latent(
    model,
    task: Task,
    *,
    test_index: int = 0,
    resolution: int = 32,
    extent=None,
    search_steps: int = 50,
    search_lr: float | None = None,
) -> LatentExplorer:
    """A clickable map of `model`'s latent space for `task`: colour is log p of the train pairs,
    a click decodes the test input there, a button runs gradient search and draws its path.
    A 2-D latent is shown as is; a larger one on the plane of its main directions."""
    return LatentExplorer(
        model,
        task,
        test_index=test_index,
        resolution=resolution,
        extent=extent,
        search_steps=search_steps,
        search_lr=search_lr,
    )
