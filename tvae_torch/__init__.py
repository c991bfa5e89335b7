"""tvae_torch: Truncated Variational Autoencoders in PyTorch, for full-scale runs on a CPU or a GPU.

The same modules and function names as `tvae_ref` for the same equations of the paper (Drefs,
Guiraud, Panagiotou and Lücke, 2022), on tensors:

- `model`: `Params`, `init_params`, `decode`, `sample`, `log_prior`, `log_pseudo_joint` (Eq. 9),
  `log_joint_constant`, `log_joint` (Eq. 1), `deep_from_linear` (the start of the deep decoder in Fig. 3);
- `bound`: `log_sum_exp`, `posterior_weights` (Eqs. 3, 12), `free_energy` (Eq. 7) and its forms of
  Eqs. (2) and (6), `all_states`, `exact_log_likelihood`, `estimate` (Eq. 15);
- `learning`: `decoder_gradient` (Eqs. 4, 11, by autograd of Eq. 7), `MStepStats`, `mstep_statistics`,
  `apply_mstep`, `mstep` (Eq. 5), and Adam with the triangular cyclic rate from `torch.optim`;
- `evolution` (with `states`): the evolutionary E-step, every random operator a pure function of
  uniforms `u` with the reference's shapes and meaning; Phi is stored packed, 64 latents per int64 word;
- `train`: Algorithm 1 with a resumable `TrainState`. Around it: `checkpoint` (save and resume bit
  for bit, atomic files), `run` (progress bar, log, checkpoints), `pipeline` (zero-shot denoising and
  inpainting of one image), `data` (configs and preset data), `outputs`, `bench` and `cli` (the
  `tvae` command), and `distributed` (data-parallel training on processes that torchrun starts).

Every function takes its device, dtype and random source explicitly (float32 by default, float64 for
the cross-checks against `tvae_ref`); there is no global device or random state. The E-step is
batched over data points and stays on the device. `tvae_torch` never imports `tvae_ref`; the tests
in `tests/crosscheck` hold the two backends against each other to rtol=1e-10 in float64.

Example::

    import torch, tvae_torch as tt
    from tvae_common.bars import bars_data
    import numpy as np

    X, _ = bars_data(500, np.random.default_rng(0))
    result = tt.train(X, tt.preset("bars"), torch.Generator().manual_seed(0))
    tt.decode(result.params, torch.eye(8))  # (8, 16): one bar per latent

From the shell: `tvae train bars`, `tvae denoise noisy.npy --preset house-25`, `tvae bench`
(see `tvae --help` and the README).
"""

from tvae_common.config import PRESETS, TrainConfig, preset
from tvae_torch.bound import (all_states, estimate, exact_log_likelihood, free_energy, free_energy_entropy_form,
                              free_energy_kl_form, log_sum_exp, posterior_weights)
from tvae_torch.evolution import (Uniforms, children, crossover, estep, evolve, init_states, is_duplicate, mutate,
                                  pack_states, parent_probabilities, randflip_mask, select_parents,
                                  sparseflip_probabilities, unpack_states, update_states)
from tvae_torch.learning import (MStepStats, adam_with_cyclic_lr, apply_mstep, decoder_gradient, mstep,
                                 mstep_statistics)
from tvae_torch.model import (Params, decode, deep_from_linear, init_params, layer_outputs, log_joint,
                              log_joint_constant, log_prior, log_pseudo_joint, sample)
from tvae_torch.training import TrainResult, TrainState, data_variance, fill_missing, train

__all__ = [
    "PRESETS", "TrainConfig", "preset",
    "Params", "init_params", "layer_outputs", "decode", "sample", "log_prior", "log_pseudo_joint",
    "log_joint_constant", "log_joint", "deep_from_linear",
    "log_sum_exp", "posterior_weights", "free_energy", "free_energy_entropy_form", "free_energy_kl_form",
    "all_states", "exact_log_likelihood", "estimate",
    "decoder_gradient", "MStepStats", "mstep_statistics", "apply_mstep", "mstep", "adam_with_cyclic_lr",
    "Uniforms", "pack_states", "unpack_states", "is_duplicate", "init_states", "parent_probabilities",
    "select_parents", "crossover", "randflip_mask", "sparseflip_probabilities", "mutate", "update_states",
    "children", "evolve", "estep",
    "TrainResult", "TrainState", "data_variance", "fill_missing", "train",
]
