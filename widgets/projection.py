"""Where latents go on the screen: a 2-D plane through latent space, and its drawing box.

A 2-D latent is its own plane. A larger one is shown on the plane through the mean of some
latents (pair latents, a search path) spanned by their two main directions (PCA), completed with
fixed directions when the points span fewer than two. Only the drawing needs this: the model
always receives full latents, `plane.to_latent(uv)`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Plane(NamedTuple):
    origin: np.ndarray  # (H,)
    basis: np.ndarray  # (2, H), orthonormal rows
    axes: tuple[str, str]  # axis labels

    def to_latent(self, uv_K2) -> np.ndarray:
        return self.origin + np.asarray(uv_K2, np.float32) @ self.basis

    def to_plane(self, z_KH) -> np.ndarray:
        return (np.asarray(z_KH, np.float32) - self.origin) @ self.basis.T


def fit_plane(points_KH) -> Plane:
    """The identity plane for 2-D latents; otherwise the PCA plane of `points_KH` (K, H)."""
    points_KH = np.asarray(points_KH, np.float32).reshape(-1, np.shape(points_KH)[-1])
    dim = points_KH.shape[1]
    if dim == 2:
        return Plane(np.zeros(2, np.float32), np.eye(2, dtype=np.float32), ("z₁", "z₂"))
    origin = points_KH.mean(0)
    _, sv, vt = np.linalg.svd(points_KH - origin, full_matrices=True)
    rank = int(np.sum(sv > 1e-6 * max(sv.max(initial=0), 1e-12)))
    if rank >= 2:
        basis, labels = vt[:2], ("PC1", "PC2")
    else:  # complete the spanned directions with the first coordinate axes (QR keeps them orthonormal)
        basis = np.linalg.qr(np.concatenate([vt[:rank], np.eye(dim)[:2]]).T)[0].T[:2]
        labels = ("PC1", "axis") if rank == 1 else ("axis 1", "axis 2")
    return Plane(origin.astype(np.float32), basis.astype(np.float32), labels)


def square_extent(uv_K2, minimum: float = 3.0, margin: float = 1.25) -> list[float]:
    """[u0, u1, v0, v1]: a square around the origin holding every point with a margin, at least
    ±`minimum` (3 standard deviations of the prior, for a 2-D latent)."""
    uv_K2 = np.asarray(uv_K2, np.float32).reshape(-1, 2)
    half = max(minimum, margin * float(np.abs(uv_K2).max(initial=0.0)))
    return [-half, half, -half, half]


def grid_points(extent, resolution: int) -> np.ndarray:
    """(G·G, 2) cell centres of a G x G raster over `extent`, row 0 at the TOP (largest v), as an
    image is drawn."""
    u0, u1, v0, v1 = extent
    step_u, step_v = (u1 - u0) / resolution, (v1 - v0) / resolution
    u = u0 + step_u * (np.arange(resolution) + 0.5)
    v = v1 - step_v * (np.arange(resolution) + 0.5)
    uu, vv = np.meshgrid(u, v)
    return np.stack([uu.ravel(), vv.ravel()], 1).astype(np.float32)
