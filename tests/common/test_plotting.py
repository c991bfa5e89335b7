import matplotlib.pyplot as plt
import numpy as np

from tvae_common.plotting import frame_axes, image_grid, state_strip


def test_state_strip_draws_one_numbered_box_per_entry():
    fig, ax = plt.subplots()
    state_strip(ax, np.array([1, 0, 1, 1, 0]), label="z")
    assert ax.images[0].get_array().shape == (1, 5)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2", "3", "4"]
    plt.close(fig)


def test_frame_axes_frames_images_only():
    fig = image_grid(np.zeros((3, 4)), (2, 2), ncols=2)  # 2 x 2 axes, the last one empty
    assert frame_axes(fig) is fig
    visible = [ax.axison for ax in fig.axes]
    assert visible == [True, True, True, False]
    assert all(ax.get_xticks().size == 0 for ax in fig.axes[:3])
    plt.close(fig)
