"""The evolutionary E-step of Fig. 1 and Algorithm 1: selection, crossover, mutation, state update.

Every random operator is a pure function of uniform random numbers `u` in [0, 1) that the caller
draws, so that the two backends can be fed the same decisions and compared exactly. Fitness is the
log-pseudo-joint of Eq. (9) (divided by 2 sigma^2), which ranks states exactly as Eq. (8) does.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from tvae_common.config import Selection, TrainConfig
from tvae_ref.model import Params, log_pseudo_joint


def pack_states(K: np.ndarray) -> np.ndarray:
    """Pack binary states (..., H) into 64-bit words (..., ceil(H / 64)): 64 times less memory."""
    packed = np.packbits(np.asarray(K, dtype=np.uint8), axis=-1, bitorder="little")  # (..., ceil(H/8))
    pad = -packed.shape[-1] % 8
    packed = np.pad(packed, [(0, 0)] * (packed.ndim - 1) + [(0, pad)])
    return np.ascontiguousarray(packed).view("<u8")


def unpack_states(words: np.ndarray, H: int) -> np.ndarray:
    """Inverse of `pack_states`."""
    as_bytes = np.ascontiguousarray(words).view(np.uint8)
    return np.unpackbits(as_bytes, axis=-1, count=H, bitorder="little")


def is_duplicate(K: np.ndarray) -> np.ndarray:
    """For states (N, T, H): True where a state equals an earlier state of the same row. (N, T)."""
    words = pack_states(K)  # (N, T, W)
    equal = (words[:, :, None, :] == words[:, None, :, :]).all(axis=-1)  # (N, T, T)
    earlier = np.tril(np.ones(equal.shape[1:], dtype=bool), k=-1)  # [t, t'] with t' < t
    return (equal & earlier).any(axis=-1)


def init_states(N: int, S: int, H: int, rng: np.random.Generator, p_on: float | None = None) -> np.ndarray:
    """S distinct random states per data point, (N, S, H); bits are on with probability p_on (default 1/H).

    States that repeat within a row are drawn again, with p_on rising towards 1/2 so that dense
    regions of the state space are reached when the sparse ones are used up.
    """
    if S > 2**H:
        raise ValueError(f"S={S} distinct states are impossible with H={H} latents")
    p = 1.0 / H if p_on is None else p_on
    K = (rng.random((N, S, H)) < p).astype(np.uint8)
    while (dup := is_duplicate(K)).any():
        p = min(0.5, 1.25 * p)
        K[dup] = rng.random((int(dup.sum()), H)) < p
    return K


def parent_probabilities(fitness: np.ndarray) -> np.ndarray:
    """Fitness-proportional selection probabilities per data point, (N, T) -> (N, T).

    The fitness of a row is shifted by twice its most negative value (as in the authors' code), which
    makes it positive, and normalised over the row.
    """
    shifted = fitness - 2 * np.minimum(fitness.min(axis=1, keepdims=True), 0.0)
    total = shifted.sum(axis=1, keepdims=True)
    return np.where(total > 0, shifted / np.where(total > 0, total, 1.0), 1.0 / fitness.shape[1])


def _inverse_cdf(p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index drawn from each row of probabilities p (N, T) by uniforms u (N, P). Returns (N, P)."""
    cdf = np.cumsum(p, axis=1)  # (N, T)
    idx = (cdf[:, None, :] <= u[:, :, None] * cdf[:, None, -1:]).sum(axis=-1)
    return np.minimum(idx, p.shape[1] - 1)


def _tvo_compatible(fitness: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The authors' published selection (NOTES.md): fitness normalised over the whole batch and an
    off-by-one index, so that most picks land on the best stored state. Their states are kept in
    ascending order of fitness, ours in descending order, hence the reversal."""
    T = fitness.shape[1]
    shifted = fitness[:, ::-1] - 2 * min(fitness.min(), 0.0)
    cdf = np.cumsum(shifted / shifted.sum(), axis=1)  # (N, T), sums to 1 over the batch, not the row
    their_idx = (T - 1 - (u[:, :, None] < cdf[:, None, :]).sum(axis=-1)) % T
    return T - 1 - their_idx


def select_parents(fitness: np.ndarray, u: np.ndarray, selection: Selection) -> np.ndarray:
    """Parent selection (Fig. 1A) with replacement: indices (N, P) into the candidates of each row.

    fitness (N, T) of the candidates, u (N, P) uniform numbers, one per parent.
    """
    if selection == "fitness":
        return _inverse_cdf(parent_probabilities(fitness), u)
    if selection == "uniform":
        return np.minimum((u * fitness.shape[1]).astype(np.int64), fitness.shape[1] - 1)
    if selection == "tvo-compatible":
        return _tvo_compatible(fitness, u)
    raise ValueError(f"unknown selection {selection!r}")


def crossover(parents: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One-point crossover of every pair of parents, (N, P, H) -> (N, P (P - 1), H).

    Pair k = (i, j) in lexicographic order is cut after bit c_k = 1 + floor(u_k (H - 1)), u (N, P (P-1) / 2),
    and gives the children (i before the cut, j after) and (j before, i after), in that order.
    """
    N, P, H = parents.shape
    i, j = np.array(list(combinations(range(P), 2))).T  # (pairs,), (pairs,)
    cut = 1 + (u * (H - 1)).astype(np.int64)  # (N, pairs)
    head = np.arange(H) < cut[..., None]  # (N, pairs, H)
    first = np.where(head, parents[:, i], parents[:, j])
    second = np.where(head, parents[:, j], parents[:, i])
    return np.stack([first, second], axis=2).reshape(N, P * (P - 1), H)


def randflip_mask(u: np.ndarray, n_children: int) -> np.ndarray:
    """Bits to flip when each of M states gets n_children children that flip one different bit each.

    u (N, M, H) uniform numbers: the bits with the n_children smallest values are flipped.
    Returns (N, M n_children, H); child m * n_children + c belongs to state m.
    """
    N, M, H = u.shape
    bits = np.argsort(u, axis=-1)[..., :n_children]  # (N, M, C)
    mask = np.zeros((N, M, n_children, H), dtype=np.uint8)
    np.put_along_axis(mask, bits[..., None], 1, axis=-1)
    return mask.reshape(N, M * n_children, H)


def sparseflip_probabilities(K: np.ndarray, crowdedness: float, p_bf: float) -> np.ndarray:
    """Per-bit flip probabilities that pull a child towards `crowdedness` active bits, (N, M, H).

    With s active bits out of H, flipping 0 -> 1 with p0 and 1 -> 0 with p1 changes s by
    (H - s) p0 - s p1 in expectation and flips (H - s) p0 + s p1 bits. Asking for H p_bf flips and an
    expected new count equal to the crowdedness gives p0 = (H p_bf + c - s) / (2 (H - s)) and
    p1 = (H p_bf - c + s) / (2 s), clipped to [0, 1].
    """
    H = K.shape[-1]
    s = K.sum(axis=-1, keepdims=True, dtype=np.float64)  # (N, M, 1)
    p0 = np.divide(H * p_bf + crowdedness - s, 2 * (H - s), out=np.zeros_like(s), where=s < H)
    p1 = np.divide(H * p_bf - crowdedness + s, 2 * s, out=np.zeros_like(s), where=s > 0)
    return np.clip(np.where(K == 1, p1, p0), 0.0, 1.0)


def mutate(K: np.ndarray, flips: np.ndarray) -> np.ndarray:
    """Mutation (Fig. 1B): flip the bits marked in `flips`."""
    return K ^ flips


def update_states(K: np.ndarray, fitness: np.ndarray, K_new: np.ndarray, fitness_new: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Merge new states into Phi(n) and keep the S fittest distinct ones (Fig. 1C, Eq. 8).

    New states equal to a state of Phi(n) or to an earlier new state are discarded. Phi(n) already
    holds S distinct states, so S remain. Returns states (N, S, H) and fitness (N, S), fittest first;
    ties keep the older state.
    """
    S = K.shape[1]
    K_all = np.concatenate([K, K_new], axis=1)  # (N, S + M, H)
    f_all = np.concatenate([fitness, fitness_new], axis=1)  # (N, S + M)
    order = np.lexsort((-f_all, is_duplicate(K_all)), axis=1)[:, :S]  # distinct first, then fittest
    return np.take_along_axis(K_all, order[..., None], axis=1), np.take_along_axis(f_all, order, axis=1)


def children(parents: np.ndarray, config: TrainConfig, pi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Crossover (if configured) and mutation of selected parents (N, P, H): one generation's children."""
    N, P, H = parents.shape
    if config.crossover:
        base, per_state = crossover(parents, rng.random((N, P * (P - 1) // 2))), 1
    else:
        base, per_state = parents, config.n_children
    if config.mutation == "randflip":
        return mutate(np.repeat(base, per_state, axis=1), randflip_mask(rng.random(base.shape), per_state))
    base = np.repeat(base, per_state, axis=1)
    p_bf = config.bitflip_frequency or 1.0 / H
    p = sparseflip_probabilities(base, H * pi.mean(), p_bf)
    return mutate(base, (rng.random(base.shape) < p).astype(np.uint8))


def evolve(params: Params, X: np.ndarray, K: np.ndarray, fitness: np.ndarray, config: TrainConfig,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """All generations of the evolutionary search for a batch (Algorithm 1's inner loop).

    Generation 0 picks parents from Phi(n) (with their fitness (N, S)), later generations from the
    previous generation's children. Returns all new states (N, M, H) and their fitness (N, M).
    """
    N = len(X)
    candidates, candidate_fitness = K, fitness
    new_states, new_fitness = [], []
    for _ in range(config.n_generations):
        idx = select_parents(candidate_fitness, rng.random((N, config.n_parents)), config.selection)  # (N, P)
        parents = np.take_along_axis(candidates, idx[..., None], axis=1)  # (N, P, H)
        candidates = children(parents, config, params.pi, rng)  # (N, M_g, H)
        candidate_fitness = log_pseudo_joint(params, X, candidates)
        new_states.append(candidates)
        new_fitness.append(candidate_fitness)
    return np.concatenate(new_states, axis=1), np.concatenate(new_fitness, axis=1)


def estep(params: Params, X: np.ndarray, K: np.ndarray, config: TrainConfig, rng: np.random.Generator
          ) -> tuple[np.ndarray, np.ndarray]:
    """The E-step for one batch: evolve new states and update Phi(n). Returns states and fitness."""
    fitness = log_pseudo_joint(params, X, K)
    return update_states(K, fitness, *evolve(params, X, K, fitness, config, rng))
