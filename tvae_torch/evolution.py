"""The evolutionary E-step of Fig. 1 and Algorithm 1: selection, crossover, mutation, state update.

Every random operator is a pure function of uniform numbers `u` in [0, 1) with the shapes and
meaning of `tvae_ref.evolution`, so that the two backends can be fed the same decisions and compared
exactly. The decisions are drawn by a `Uniforms` source in a fixed order. Fitness is the
log-pseudo-joint of Eq. (9) (divided by 2 sigma^2). Everything runs batched over data points on the
device: no loop over data points and no read-back from the device inside an E-step.
"""

from __future__ import annotations

import torch

from tvae_common.config import Selection, TrainConfig
from tvae_torch.checks import check_data, check_states
from tvae_torch.model import Params, byte_table, log_pseudo_joint_of_words, observed_mask
from tvae_torch.states import (crossover_words, duplicate_words, flip_words, init_packed_states, init_states,
                               is_duplicate, keep_fittest, pack_states, unpack_states)

__all__ = [
    "Uniforms", "pack_states", "unpack_states", "is_duplicate", "duplicate_words", "init_states",
    "init_packed_states", "parent_probabilities", "select_parents", "crossover", "randflip_mask",
    "sparseflip_probabilities", "mutate", "update_states", "children", "evolve", "estep",
]


class Uniforms:
    """The source of every random decision of training: uniforms in [0, 1), permutations, flipped bits.

    Backed by a torch.Generator on the model's device. A source with the same methods that draws
    elsewhere (a test shares one NumPy stream with `tvae_ref`) reproduces a run decision by decision.
    """

    def __init__(self, generator: torch.Generator, device: torch.device, dtype: torch.dtype):
        self.generator, self.device, self.dtype = generator, device, dtype

    def random(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.rand(shape, generator=self.generator, device=self.device, dtype=self.dtype)

    def permutation(self, n: int) -> torch.Tensor:
        return torch.randperm(n, generator=self.generator, device=self.device)

    def flip_bits(self, shape: tuple[int, int, int], n_children: int) -> torch.Tensor:
        """randflip's decision for n_children children of each of (N, M) states of H bits: (N, M, C).

        That is `randflip_bits(u, n_children)` for uniforms u of `shape` (N, M, H). With one child per
        state it is the index of the smallest of H uniforms, which is uniform on 0 .. H - 1: it is
        drawn directly, one integer instead of H uniforms per child.
        """
        if n_children == 1:
            return torch.randint(shape[-1], (*shape[:-1], 1), generator=self.generator, device=self.device)
        return randflip_bits(self.random(shape), n_children)


def as_uniforms(rng: torch.Generator | Uniforms, params: Params) -> Uniforms:
    return rng if isinstance(rng, Uniforms) else Uniforms(rng, params.device, params.dtype)


def parent_probabilities(fitness: torch.Tensor) -> torch.Tensor:
    """Fitness-proportional selection probabilities per data point, (N, T) -> (N, T).

    The fitness of a row is shifted by twice its most negative value (as in the authors' code), which
    makes it positive, and normalised over the row.
    """
    shifted = fitness - 2 * torch.clamp(fitness.min(dim=1, keepdim=True).values, max=0.0)
    total = shifted.sum(dim=1, keepdim=True)
    return torch.where(total > 0, shifted / torch.where(total > 0, total, 1.0), 1.0 / fitness.shape[1])


def _inverse_cdf(p: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Index drawn from each row of probabilities p (N, T) by uniforms u (N, P). Returns (N, P)."""
    cdf = torch.cumsum(p, dim=1)  # (N, T)
    idx = torch.searchsorted(cdf, (u * cdf[:, -1:]).contiguous(), right=True)  # entries of cdf <= u * total
    return torch.clamp(idx, max=p.shape[1] - 1)


def _tvo_compatible(fitness: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The authors' published selection (NOTES.md): fitness normalised over the whole batch and an
    off-by-one index, so that most picks land on the best stored state. Their states are kept in
    ascending order of fitness, ours in descending order, hence the reversal."""
    T = fitness.shape[1]
    shifted = fitness.flip(1) - 2 * torch.clamp(fitness.min(), max=0.0)
    cdf = torch.cumsum(shifted / shifted.sum(), dim=1)  # (N, T), sums to 1 over the batch, not the row
    their_idx = (T - 1 - (u[:, :, None] < cdf[:, None, :]).sum(-1)) % T
    return T - 1 - their_idx


def select_parents(fitness: torch.Tensor, u: torch.Tensor, selection: Selection) -> torch.Tensor:
    """Parent selection (Fig. 1A) with replacement: indices (N, P) into the candidates of each row.

    fitness (N, T) of the candidates, u (N, P) uniform numbers, one per parent.
    """
    if selection == "fitness":
        return _inverse_cdf(parent_probabilities(fitness), u)
    if selection == "uniform":
        return torch.clamp((u * fitness.shape[1]).long(), max=fitness.shape[1] - 1)
    if selection == "tvo-compatible":
        return _tvo_compatible(fitness, u)
    raise ValueError(f"unknown selection {selection!r}")


def crossover(parents: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """One-point crossover of every pair of parents, (N, P, H) -> (N, P (P - 1), H).

    Pair k = (i, j) in lexicographic order is cut after bit c_k = 1 + floor(u_k (H - 1)), u (N, P (P-1) / 2),
    and gives the children (i before the cut, j after) and (j before, i after), in that order.
    """
    H = parents.shape[-1]
    return unpack_states(crossover_words(pack_states(parents), crossover_cuts(u, H), H), H)


def crossover_cuts(u: torch.Tensor, H: int) -> torch.Tensor:
    """Crossover points c = 1 + floor(u (H - 1)) in 1 .. H - 1: a child takes bits < c from its first parent."""
    return 1 + (u * (H - 1)).long()


def randflip_bits(u: torch.Tensor, n_children: int) -> torch.Tensor:
    """The bits with the n_children smallest uniforms, ascending: u (N, M, H) -> (N, M, C)."""
    if n_children == 1:
        return u.argmin(dim=-1, keepdim=True)
    return torch.topk(u, n_children, dim=-1, largest=False, sorted=True).indices


def randflip_mask(u: torch.Tensor, n_children: int) -> torch.Tensor:
    """Bits to flip when each of M states gets n_children children that flip one different bit each.

    u (N, M, H) uniform numbers: the bits with the n_children smallest values are flipped.
    Returns (N, M n_children, H) uint8; child m * n_children + c belongs to state m.
    """
    N, M, H = u.shape
    mask = torch.zeros(N, M, n_children, H, dtype=torch.uint8, device=u.device)
    mask.scatter_(-1, randflip_bits(u, n_children)[..., None], 1)
    return mask.reshape(N, M * n_children, H)


def sparseflip_probabilities(K: torch.Tensor, crowdedness: float | torch.Tensor, p_bf: float) -> torch.Tensor:
    """Per-bit flip probabilities that pull a child towards `crowdedness` active bits, (N, M, H).

    With s active bits out of H, flipping 0 -> 1 with p0 and 1 -> 0 with p1 changes s by
    (H - s) p0 - s p1 in expectation and flips (H - s) p0 + s p1 bits. Asking for H p_bf flips and an
    expected new count equal to the crowdedness gives p0 = (H p_bf + c - s) / (2 (H - s)) and
    p1 = (H p_bf - c + s) / (2 s), clipped to [0, 1].
    """
    H = K.shape[-1]
    dtype = crowdedness.dtype if isinstance(crowdedness, torch.Tensor) else torch.float64
    s = K.sum(dim=-1, keepdim=True, dtype=dtype)  # (N, M, 1)
    p0 = torch.where(s < H, (H * p_bf + crowdedness - s) / (2 * (H - s)), 0.0)
    p1 = torch.where(s > 0, (H * p_bf - crowdedness + s) / (2 * s), 0.0)
    return torch.clamp(torch.where(K == 1, p1, p0), 0.0, 1.0)


def mutate(K: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """Mutation (Fig. 1B): flip the bits marked in `flips`."""
    return K ^ flips


def update_states(K: torch.Tensor, fitness: torch.Tensor, K_new: torch.Tensor, fitness_new: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge new states into Phi(n) and keep the S fittest distinct ones (Fig. 1C, Eq. 8).

    New states equal to a state of Phi(n) or to an earlier new state are discarded. Phi(n) already
    holds S distinct states, so S remain. Returns states (N, S, H) and fitness (N, S), fittest first;
    ties keep the older state.
    """
    K_all = torch.cat([K, K_new], dim=1)  # (N, S + M, H)
    f_all = torch.cat([fitness, fitness_new], dim=1)  # (N, S + M)
    order = keep_fittest(pack_states(K_all), f_all, K.shape[1])  # (N, S)
    return _take_states(K_all, order), f_all.gather(1, order)


def _take_states(A: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Rows `order` (N, S) of states or words A (N, T, X) -> (N, S, X)."""
    return A.gather(1, order[..., None].expand(-1, -1, A.shape[2]))


def children_words(parents: torch.Tensor, H: int, config: TrainConfig, pi: torch.Tensor, rng: Uniforms
                   ) -> torch.Tensor:
    """`children` on packed parents (N, P, W): one generation's packed children (N, M_g, W)."""
    N, P, _ = parents.shape
    if config.crossover:
        base, per_state = crossover_words(parents, crossover_cuts(rng.random((N, P * (P - 1) // 2)), H), H), 1
    else:
        base, per_state = parents, config.n_children
    if config.mutation == "randflip":
        return flip_words(base, rng.flip_bits((N, base.shape[1], H), per_state))
    K = unpack_states(base.repeat_interleave(per_state, dim=1), H)  # (N, M_g, H)
    p = sparseflip_probabilities(K, H * pi.mean(), config.bitflip_frequency or 1.0 / H)
    return pack_states(mutate(K, (rng.random(K.shape) < p).to(torch.uint8)))


def children(parents: torch.Tensor, config: TrainConfig, pi: torch.Tensor, rng: torch.Generator | Uniforms
             ) -> torch.Tensor:
    """Crossover (if configured) and mutation of selected parents (N, P, H): one generation's children."""
    H = parents.shape[-1]
    rng = rng if isinstance(rng, Uniforms) else Uniforms(rng, pi.device, pi.dtype)
    return unpack_states(children_words(pack_states(parents), H, config, pi, rng), H)


def evolve_unchecked(params: Params, X: torch.Tensor, words: torch.Tensor, fitness: torch.Tensor,
                     config: TrainConfig, rng: Uniforms, observed: torch.Tensor | None, table: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """`evolve` on packed Phi (N, S, W) without input checks, given `byte_table(params, W)`:
    new words (N, M, W) and fitness (N, M)."""
    N = len(X)
    candidates, candidate_fitness = words, fitness
    new_words, new_fitness = [], []
    for _ in range(config.n_generations):
        idx = select_parents(candidate_fitness, rng.random((N, config.n_parents)), config.selection)  # (N, P)
        candidates = children_words(_take_states(candidates, idx), params.H, config, params.pi, rng)  # (N, M_g, W)
        candidate_fitness = log_pseudo_joint_of_words(params, table, X, candidates, observed)
        new_words.append(candidates)
        new_fitness.append(candidate_fitness)
    return torch.cat(new_words, dim=1), torch.cat(new_fitness, dim=1)


def evolve(params: Params, X, K, fitness: torch.Tensor, config: TrainConfig, rng: torch.Generator | Uniforms
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """All generations of the evolutionary search for a batch (Algorithm 1's inner loop).

    Generation 0 picks parents from Phi(n) (with their fitness (N, S)), later generations from the
    previous generation's children. Returns all new states (N, M, H) and their fitness (N, M).
    """
    X = check_data(X, params.D, params.device, params.dtype)
    K = check_states(K, params.H, len(X), params.device)
    words = pack_states(K)
    words, fitness_new = evolve_unchecked(params, X, words, fitness, config, as_uniforms(rng, params),
                                          observed_mask(X), byte_table(params, words.shape[-1]))
    return unpack_states(words, params.H), fitness_new


def estep_unchecked(params: Params, X: torch.Tensor, words: torch.Tensor, config: TrainConfig, rng: Uniforms,
                    observed: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The E-step on packed Phi (N, S, W): returns the new states (N, S, H), their words and fitness (N, S)."""
    S = words.shape[1]
    table = byte_table(params, words.shape[-1])
    fitness = log_pseudo_joint_of_words(params, table, X, words, observed)  # (N, S)
    words_new, fitness_new = evolve_unchecked(params, X, words, fitness, config, rng, observed, table)
    words_all = torch.cat([words, words_new], dim=1)  # (N, S + M, W)
    f_all = torch.cat([fitness, fitness_new], dim=1)  # (N, S + M)
    order = keep_fittest(words_all, f_all, S)  # (N, S)
    words = _take_states(words_all, order)
    return unpack_states(words, params.H), words, f_all.gather(1, order)


def estep(params: Params, X, K, config: TrainConfig, rng: torch.Generator | Uniforms
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """The E-step for one batch: evolve new states and update Phi(n). Returns states and fitness."""
    X = check_data(X, params.D, params.device, params.dtype)
    K = check_states(K, params.H, len(X), params.device)
    K_new, _, fitness = estep_unchecked(params, X, pack_states(K), config, as_uniforms(rng, params), observed_mask(X))
    return K_new, fitness
