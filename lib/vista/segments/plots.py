"""PNG plots of a segments refresh (matplotlib, no display needed).

Every plot is drawn from small inputs: the model's parameters on a grid, segment sizes,
the ten calibration rows. None reads customers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from vista.segments.clv.frame import ClvModel
from vista.segments.clv.model import expected_purchases, p_alive


def _pyplot():  # noqa: ANN202
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window
    import matplotlib.pyplot as plt

    return plt


def frequency_recency_heatmaps(clv: ClvModel, max_frequency: int, max_t: float,
                               out: Path) -> list[Path]:
    """Expected purchases over the horizon and P(alive), for a customer first seen
    ``max_t`` periods ago, by frequency (rows) and recency (columns)."""
    plt = _pyplot()
    params = clv.bgnbd.params
    freq = np.arange(0, max(int(max_frequency), 1) + 1, dtype=float)
    rec = np.linspace(0.0, max_t, 60)
    x, t_x = np.meshgrid(freq, rec, indexing="ij")
    t = np.full_like(x, max_t)
    x_ok = np.where(x > 0, t_x, 0.0)  # recency is 0 without repeat purchases
    grids = {
        "clv_expected_purchases_heatmap.png": (
            expected_purchases(params, float(clv.horizon), x, x_ok, t),
            f"Expected purchases in the next {clv.horizon} periods"),
        "clv_p_alive_heatmap.png": (p_alive(params, x, x_ok, t), "P(alive)"),
    }
    paths = []
    for name, (grid, title) in grids.items():
        fig, ax = plt.subplots(figsize=(7, 5))
        image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis",
                          extent=(0, max_t, -0.5, freq[-1] + 0.5))
        fig.colorbar(image, ax=ax)
        ax.set_xlabel(f"recency (periods of {clv.unit_days:g} days)")
        ax.set_ylabel("frequency (repeat purchases)")
        ax.set_title(f"{title}; T = {max_t:.0f}")
        paths.append(_save(fig, out / name, plt))
    return paths


def calibration_plot(rows: Sequence[Mapping[str, float]], out: Path) -> Path:
    """Mean predicted vs actual hold-out spend per decile of the prediction."""
    plt = _pyplot()
    deciles = [r["decile"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(deciles, [r["predicted"] for r in rows], marker="o", label="predicted")
    ax.plot(deciles, [r["actual"] for r in rows], marker="s", label="actual")
    ax.set_xlabel("decile of predicted hold-out spend")
    ax.set_ylabel("mean spend per customer")
    ax.set_title("CLV calibration against the hold-out")
    ax.legend()
    return _save(fig, out / "clv_calibration_holdout.png", plt)


def size_bars(sizes: Mapping[str, int], title: str, out: Path, name: str) -> Path:
    """Customers per segment, as horizontal bars."""
    plt = _pyplot()
    labels = list(sizes)
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(labels) + 1.5))
    ax.barh(labels, [sizes[k] for k in labels], color="#4c72b0")
    ax.invert_yaxis()
    ax.set_xlabel("customers")
    ax.set_title(title)
    return _save(fig, out / name, plt)


def _save(fig, path: Path, plt) -> Path:  # noqa: ANN001
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
