"""Zero-shot restoration of one image (Appendix B.2, C): patches, training, Eq. (15) per patch, merging.

Every overlapping patch is a data point. The model is trained on all of them (or on a seeded subset),
each patch gets its posterior mean of Eq. (15) under the trained model, and each pixel is the plain
mean of the estimates of the patches that cover it. After training on a subset, a pixel takes the
estimates of the trained patches that cover it; only where no trained patch does, it takes those of
"helper" patches, whose sets Phi come from E-step sweeps with the trained model. For inpainting, missing
pixels are NaN; only they are replaced in the restored image. On several processes, each infers and
estimates the patches around its training shard, and process 0 merges the estimates into the image.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from tvae_common.config import TrainConfig
from tvae_common.images import extract_patches, merge_patches, patches_covering, pixels_covered
from tvae_torch.bound import estimate_from_means, posterior_weights
from tvae_torch.distributed import Shard, batch_uniforms, even_shard, spanning_shard
from tvae_torch.evolution import Uniforms, estep_unchecked
from tvae_torch.model import Params, log_joint, means
from tvae_torch.run import RunOptions, run_training
from tvae_torch.states import init_packed_states, unpack_states

CHUNK = 1024  # patches per chunk when every patch is inferred or estimated at once


def check_image(image: np.ndarray, patch_size: int, allow_missing: bool) -> np.ndarray:
    """A 2-D float image on which patches of `patch_size` fit; NaN only where pixels may be missing."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"the image must be 2-D (grey), got an array of shape {image.shape}")
    if patch_size > min(image.shape):
        raise ValueError(f"patch size {patch_size} is larger than the image {image.shape}")
    if np.isinf(image).any() or (np.isnan(image).any() and not allow_missing):
        raise ValueError("the image holds infinite or NaN values" + ("" if allow_missing else
                         "; NaN marks missing pixels, which `tvae inpaint` restores"))
    if np.isnan(image).all():
        raise ValueError("every pixel of the image is missing: there is nothing to learn from")
    return image


def training_subset(N: int, n_patches: int | None, seed: int) -> np.ndarray:
    """Indices of the patches to train on: all, or a seeded random subset of n_patches, in order."""
    if n_patches is None or n_patches >= N:
        return np.arange(N)
    if n_patches < 1:
        raise ValueError(f"--patches must be positive, got {n_patches}")
    return np.sort(np.random.default_rng(seed).choice(N, n_patches, replace=False))


def infer_states(params: Params, X: torch.Tensor, words: torch.Tensor, config: TrainConfig, rng: Uniforms,
                 sweeps: int, shard: Shard | None = None, progress: bool = False) -> torch.Tensor:
    """E-steps with fixed parameters over all data points, chunk by chunk: better Phi for every patch.

    X (n, D) and words are the shard's points; the chunks (and their random decisions) are those of all N.
    `progress` shows a bar over the sweeps' chunks (on process 0).
    """
    shard = even_shard(len(X)) if shard is None else shard
    observed = ~torch.isnan(X)
    chunks = range(0, shard.N, CHUNK)
    bar = tqdm(total=sweeps * len(chunks), desc="E-step sweeps", unit="chunk", dynamic_ncols=True,
               disable=not progress or shard.rank != 0)
    with torch.no_grad(), bar:
        for _ in range(sweeps):
            for start in chunks:
                part, rows = shard.within(start, start + CHUNK)
                chunk_rng = batch_uniforms(rng, None if shard.size == 1 else rows, min(CHUNK, shard.N - start))
                words[part] = estep_unchecked(params, X[part], words[part], config, chunk_rng, observed[part])[1]
                bar.update()
    return words


def estimate_all(params: Params, X: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
    """Eq. (15) for every data point, chunk by chunk: (N, D) float64 on the device."""
    parts = []
    with torch.no_grad():
        for start in range(0, len(X), CHUNK):
            K = unpack_states(words[start : start + CHUNK], params.H)  # (chunk, S, H)
            q = posterior_weights(log_joint(params, X[start : start + CHUNK], K))
            parts.append(estimate_from_means(q, means(params, K)).double())
    return torch.cat(parts)


def helper_patches(trained: np.ndarray, shape: tuple[int, int], size: int) -> np.ndarray:
    """Ascending indices of the untrained patches that hold a pixel which no patch in `trained` covers."""
    is_trained = np.zeros((shape[0] - size + 1) * (shape[1] - size + 1), dtype=bool)
    is_trained[trained] = True
    uncovered = ~pixels_covered(is_trained, shape, size)
    return np.flatnonzero(patches_covering(uncovered, size) & ~is_trained)


def merge_preferring(estimates: np.ndarray, shape: tuple[int, int], trained: np.ndarray, helpers: np.ndarray
                     ) -> np.ndarray:
    """The image from the estimates (N, D) of all patches, of which only rows `trained` and `helpers` are used:
    each pixel is the mean over the trained patches that cover it, or where none do, over the helpers."""
    patch = np.arange(len(estimates))
    from_trained = merge_patches(estimates, shape, weights=np.isin(patch, trained))  # NaN where none covers
    if len(helpers) == 0:
        return from_trained
    from_helpers = merge_patches(estimates, shape, weights=np.isin(patch, helpers))
    return np.where(np.isnan(from_trained), from_helpers, from_trained)


@dataclass(frozen=True)
class Restoration:
    image: np.ndarray  # the restored image, float64, not clipped
    params: Params
    words: torch.Tensor  # (len(rows), S, ceil(H / 64)) packed Phi of the patches `rows`, as Eq. (15) used it
    rows: np.ndarray  # the patches whose estimates make the image: the trained ones and the helpers, ascending
    free_energy: list[float]
    sigma2: list[float]
    seconds: list[float]  # per epoch
    inference_seconds: float  # after training: the sweeps, Eq. (15) for the patches `rows` and the merge
    n_patches: int
    n_trained: int


def restore(image: np.ndarray, patch_size: int, config: TrainConfig, options: RunOptions,
            n_patches: int | None = None, sweeps: int = 0) -> Restoration | None:
    """Denoise (no NaN) or inpaint (NaN = missing) one image with a TVAE trained on its own patches.

    With a training subset, the helper patches (see `helper_patches`) get their Phi from `sweeps`
    E-steps with the trained model (the trained patches also get them when sweeps > 0). On several
    processes, process 0 returns the restoration and the others None.
    """
    image = check_image(image, patch_size, allow_missing=True)
    patches = extract_patches(image, patch_size)  # (N, D)
    subset = training_subset(len(patches), n_patches, options.seed)
    helpers = helper_patches(subset, image.shape, patch_size)
    if len(helpers) and sweeps < 1:
        raise ValueError(f"some pixels lie in no trained patch: {len(helpers)} helper patches that cover them "
                         "need E-step sweeps (sweeps >= 1) for their Phi")
    result, X_train, seconds = run_training(patches[subset], config, options)
    start = time.perf_counter()
    rows = np.union1d(subset, helpers)  # the patches whose estimates make the image, ascending
    trained = even_shard(len(subset), options.rank, options.processes)  # as run_training split the subset
    shard = spanning_shard(trained, np.searchsorted(rows, subset), len(rows))
    X = torch.as_tensor(patches[rows[shard.rows]], dtype=options.dtype, device=X_train.device)  # (n, D)
    generator = torch.Generator(device=X.device).manual_seed(options.seed + 1)
    words = init_packed_states(len(rows), config.S, config.H, generator, X.device, rows=shard.rows)
    words[torch.as_tensor(np.searchsorted(rows, subset[trained.rows]) - shard.lo, device=X.device)] = result.words
    if sweeps > 0:
        words = infer_states(result.params, X, words, config, Uniforms(generator, X.device, options.dtype), sweeps,
                             shard, options.progress)
    estimates = shard.gather(estimate_all(result.params, X, words))  # (len(rows), D) on process 0
    if shard.rank != 0:
        return None
    every_patch = np.zeros(patches.shape)
    every_patch[rows] = estimates.cpu().numpy()
    restored = merge_preferring(every_patch, image.shape, subset, helpers)
    restored = np.where(np.isnan(image), restored, image) if np.isnan(image).any() else restored
    return Restoration(restored, result.params, words, rows, result.free_energy.tolist(), result.sigma2.tolist(),
                       seconds, time.perf_counter() - start, len(patches), len(subset))
