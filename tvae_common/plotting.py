"""Small plotting helpers shared by the book's chapters (matplotlib only)."""

from __future__ import annotations

from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML
from matplotlib.animation import FuncAnimation


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
