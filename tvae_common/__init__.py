"""What both backends share: the training configuration and presets, and the data sets."""

from tvae_common.config import PRESETS, TrainConfig, preset

__all__ = ["PRESETS", "TrainConfig", "preset"]
