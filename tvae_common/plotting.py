"""Small plotting helpers shared by the book's chapters (matplotlib only)."""

from __future__ import annotations

from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML
from matplotlib.animation import FuncAnimation
from matplotlib.figure import Figure


def image_grid(images: np.ndarray, shape: tuple[int, int], ncols: int | None = None,
               titles: Sequence[str] | None = None, cmap: str = "gray", scale: float = 1.2, **imshow):
    """Show data points (n, D) as a grid of (h, w) images; returns the figure."""
    images = np.asarray(images)
    n = len(images)
    ncols = ncols or n
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, scale * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k < n:
            ax.imshow(images[k].reshape(shape), cmap=cmap, **imshow)
            if titles is not None:
                ax.set_title(titles[k], fontsize=8)
    return fig


def html_animation(fig, update: Callable[[int], None], frames: int, interval: int = 500) -> HTML:
    """A matplotlib animation as a self-contained HTML player (works in the static book, no kernel)."""
    animation = FuncAnimation(fig, update, frames=frames, interval=interval)
    html = HTML(animation.to_jshtml(default_mode="once"))
    plt.close(fig)
    return html


def state_strip(ax, values: np.ndarray, vmin: float = 0.0, vmax: float = 1.0, cmap: str = "Greys",
                label: str | None = None):
    """Draw a vector (H,) as a row of boxes numbered 0..H-1: a latent state z or a layer's activations."""
    values = np.asarray(values, dtype=np.float64)
    H = len(values)
    ax.imshow(values[None, :], cmap=cmap, vmin=vmin, vmax=vmax, aspect="equal")
    ax.set_xticks(range(H))
    ax.set_yticks([])
    ax.set_xticks(np.arange(-0.5, H), minor=True)
    ax.set_yticks([-0.5, 0.5], minor=True)
    ax.grid(which="minor", color="0.4", linewidth=1)
    ax.tick_params(which="both", length=0, labelsize=7)
    if label is not None:
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)


def frame_axes(fig_or_axes, color: str = "0.6"):
    """Draw a thin frame around the images of a figure (e.g. from `image_grid`) or of some axes, so that
    white pixels at an image's border stay visible against the white page. Returns its argument."""
    axes = fig_or_axes.axes if isinstance(fig_or_axes, Figure) else fig_or_axes
    for ax in axes:
        if ax.images:
            ax.set_axis_on()
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color(color)
    return fig_or_axes


def labelled_grid(images: np.ndarray, shape: tuple[int, int], row_labels: Sequence[str],
                  col_labels: Sequence[str] | None = None, cmap: str = "gray", scale: float = 0.9, **imshow):
    """Images (R, C, D) as R rows of C framed (h, w) images, each row labelled on its left; returns the figure."""
    images = np.asarray(images)
    R, C = images.shape[:2]
    fig, axes = plt.subplots(R, C, figsize=(scale * C + 1.2, scale * R), squeeze=False)
    for r, c in np.ndindex(R, C):
        axes[r, c].imshow(images[r, c].reshape(shape), cmap=cmap, **imshow)
        if col_labels is not None and r == 0:
            axes[r, c].set_title(col_labels[c], fontsize=8)
    frame_axes(fig)
    for r in range(R):
        axes[r, 0].set_ylabel(row_labels[r], rotation=0, ha="right", va="center", fontsize=8)
    return fig
