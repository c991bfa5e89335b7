"""tvae_ref: a minimal, readable NumPy reference of Truncated Variational Autoencoders.

Every function implements one equation of the paper (Drefs, Guiraud, Panagiotou and Lücke, 2022) in
float64 with gradients written by hand. `tvae_torch` has the same names for the same equations.
"""

from tvae_common.config import PRESETS, TrainConfig, preset
from tvae_ref.bound import (all_states, estimate, exact_log_likelihood, free_energy, free_energy_entropy_form,
                            free_energy_kl_form, log_sum_exp, posterior_weights)
from tvae_ref.evolution import (crossover, estep, evolve, init_states, is_duplicate, mutate, pack_states,
                                parent_probabilities, randflip_mask, select_parents, sparseflip_probabilities,
                                unpack_states, update_states)
from tvae_ref.learning import (AdamState, MStepStats, adam_init, adam_step, apply_mstep, cyclic_lr,
                               decoder_gradient, mstep, mstep_statistics)
from tvae_ref.model import (Params, canonical_params, decode, deep_from_linear, flip_latents, init_params, layer_outputs, log_joint, log_joint_constant, log_prior,
                            log_pseudo_joint, sample)
from tvae_ref.training import TrainResult, data_variance, fill_missing, train

__all__ = [
    "PRESETS", "TrainConfig", "preset",
    "Params", "init_params", "flip_latents", "canonical_params", "deep_from_linear", "layer_outputs", "decode", "sample", "log_prior", "log_pseudo_joint",
    "log_joint_constant", "log_joint",
    "log_sum_exp", "posterior_weights", "free_energy", "free_energy_entropy_form", "free_energy_kl_form",
    "all_states", "exact_log_likelihood", "estimate",
    "decoder_gradient", "MStepStats", "mstep_statistics", "apply_mstep", "mstep",
    "AdamState", "adam_init", "adam_step", "cyclic_lr",
    "pack_states", "unpack_states", "is_duplicate", "init_states", "parent_probabilities", "select_parents",
    "crossover", "randflip_mask", "sparseflip_probabilities", "mutate", "update_states", "evolve", "estep",
    "TrainResult", "data_variance", "fill_missing", "train",
]
