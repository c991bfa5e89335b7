import matplotlib.pyplot as plt
import numpy as np

from tvae_common.plotting import frame_axes, image_grid, labelled_grid, state_strip


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


def test_labelled_grid_draws_rows_of_framed_images_with_labels():
    images = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)  # 2 rows of 3 images of 2 x 2
    fig = labelled_grid(images, (2, 2), ["first", "second"], ["a", "b", "c"], vmin=0, vmax=23)
    assert len(fig.axes) == 6 and all(ax.axison for ax in fig.axes)
    assert [fig.axes[k].get_ylabel() for k in (0, 3)] == ["first", "second"]
    assert [ax.get_title() for ax in fig.axes[:3]] == ["a", "b", "c"]
    np.testing.assert_array_equal(fig.axes[5].images[0].get_array(), images[1, 2].reshape(2, 2))
    plt.close(fig)
