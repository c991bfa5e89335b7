"""The generative model, Eq. (1), and its log-joint probability (Eqs. 1, 9), on tensors.

Public functions check their inputs and accept arrays or tensors; the `*_unchecked` helpers below
them are what the training loop calls on the device, with the data set's NaN mask decided once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tvae_torch.checks import as_tensor, check_data, check_model, check_states
from tvae_torch.states import state_bytes, unpack_states

PI_MIN = 1e-5  # the M-step keeps every pi_h inside [PI_MIN, 1 - PI_MIN]
TABLE_BYTES = 2**22  # the largest `byte_table` worth building (4 MiB)
SPARSE_MIN_H = 256  # on the CPU, `first_layer` sums rows of W[0] from this many latents on ...
SPARSE_MAX_DENSITY = 1 / 8  # ... while at most this share of the states' entries is non-zero (see
# benchmarks/first_layer.py: below H = 256, or above that share, the dense product is faster)


@dataclass(frozen=True)
class Params:
    """Theta = {W, pi, sigma^2} of Eq. (1): decoder weights W[l] (in, out), biases b[l] (out,), all on one device."""

    W: list[torch.Tensor]
    b: list[torch.Tensor]
    pi: torch.Tensor  # (H,)
    sigma2: torch.Tensor  # () a scalar tensor, so that reading it never waits for the device

    def __post_init__(self):
        W, b = list(self.W), list(self.b)
        if not W:
            raise ValueError("the decoder needs at least one layer")
        object.__setattr__(self, "W", W)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "pi", as_tensor(self.pi, W[0].device, W[0].dtype))
        object.__setattr__(self, "sigma2", as_tensor(self.sigma2, W[0].device, W[0].dtype))
        check_model(W, b, self.pi, self.sigma2)

    @property
    def H(self) -> int:
        return self.W[0].shape[0]

    @property
    def D(self) -> int:
        return self.W[-1].shape[1]

    @property
    def device(self) -> torch.device:
        return self.W[0].device

    @property
    def dtype(self) -> torch.dtype:
        return self.W[0].dtype


def init_params(H: int, hidden: tuple[int, ...], D: int, generator: torch.Generator, sigma2: float = 0.01,
                device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> Params:
    """Xavier-normal weights, zero biases, pi = 1/H (Sec. 3 of the paper)."""
    sizes = (H, *hidden, D)
    W = [torch.randn(n_in, n_out, generator=generator, device=device, dtype=dtype) * math.sqrt(2.0 / (n_in + n_out))
         for n_in, n_out in zip(sizes, sizes[1:])]
    b = [torch.zeros(n_out, device=device, dtype=dtype) for n_out in sizes[1:]]
    return Params(W, b, torch.full((H,), 1.0 / H, device=device, dtype=dtype), sigma2)


def layer_outputs(params: Params, K: torch.Tensor) -> list[torch.Tensor]:
    """The decoder's input z and every layer's output; the last one is mu(z; W) of Eq. (1)."""
    lead, Z = K.shape[:-1], K.reshape(-1, K.shape[-1])  # (R, H), R = all leading dimensions
    a = [Z.to(params.dtype)] + _upper_layers(params, first_layer(params, Z))
    return [x.reshape(*lead, x.shape[-1]) for x in a]


def first_layer(params: Params, Z: torch.Tensor) -> torch.Tensor:
    """The first layer's pre-activation b[0] + z^T W[0] of Eq. (1), for states Z (R, H) (uint8 or numbers). (R, out).

    The states are sparse (on house-50 about 2 of 512 latents are active), and z^T W[0] is a sum of
    rows of W[0], one per non-zero entry of z, where the dense product takes all H. On the CPU that
    sum (`sum_of_rows`) replaces the product for large H and sparse states. Finding the non-zero
    entries reads Z back, which on a GPU would wait for the device, so there the dense product is
    always used. Both give z^T W[0] up to rounding, and autograd differentiates either in W[0] and b[0].
    """
    if Z.device.type == "cpu" and params.H >= SPARSE_MIN_H:
        entries = Z.nonzero(as_tuple=True)  # the state and the latent of every non-zero entry, (nnz,) each
        if len(entries[0]) <= SPARSE_MAX_DENSITY * Z.numel():
            return sum_of_rows(params, Z, entries)
    return torch.addmm(params.b[0], Z.to(params.dtype), params.W[0])


def sum_of_rows(params: Params, Z: torch.Tensor, entries: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """b[0] + z^T W[0] as the sum of the rows h of W[0] at the non-zero entries (r, h) of Z (R, H), each
    weighted by its entry Z[r, h]. (R, out)."""
    r, h = entries
    counts = torch.bincount(r, minlength=len(Z))  # (R,) non-zero entries per state
    return params.b[0] + F.embedding_bag(h, params.W[0], counts.cumsum(0) - counts, mode="sum",
                                         per_sample_weights=Z[r, h].to(params.dtype))


def _upper_layers(params: Params, h: torch.Tensor) -> list[torch.Tensor]:
    """Every layer's output, given the first layer's pre-activation h (R, out): ReLU hidden layers, linear output."""
    a = []
    for l in range(len(params.W)):
        if l > 0:
            h = torch.addmm(params.b[l], a[-1], params.W[l])  # (R, out)
        a.append(h if l == len(params.W) - 1 else torch.relu(h))
    return a


def means(params: Params, K: torch.Tensor) -> torch.Tensor:
    """mu(z; W) for unchecked states (..., H) -> (..., D)."""
    return layer_outputs(params, K)[-1]


def decode(params: Params, K) -> torch.Tensor:
    """The decoder mean mu(z; W) of Eq. (1): ReLU hidden layers, linear output. (..., H) -> (..., D)."""
    return means(params, check_states(K, params.H, device=params.device))


def sample(params: Params, N: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Ancestral sampling from Eq. (1): z ~ Bern(pi), x ~ N(mu(z), sigma^2 I). Returns X (N, D), Z (N, H)."""
    u = torch.rand(N, params.H, generator=generator, device=params.device, dtype=params.dtype)
    Z = (u < params.pi).to(torch.uint8)  # (N, H)
    noise = torch.randn(N, params.D, generator=generator, device=params.device, dtype=params.dtype)
    return means(params, Z) + params.sigma2.sqrt() * noise, Z  # (N, D), (N, H)


def log_prior(pi: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """log Bern(z; pi) of Eq. (1), for states (..., H) -> (...)."""
    K = K.to(pi.dtype)
    return K @ torch.log(pi) + (1 - K) @ torch.log1p(-pi)


def observed_mask(X: torch.Tensor) -> torch.Tensor | None:
    """~isnan(X), or None when nothing is missing (then no masking is needed). Reads from the device."""
    observed = ~torch.isnan(X)
    return None if bool(observed.all()) else observed


def squared_error(X: torch.Tensor, mu: torch.Tensor, observed: torch.Tensor | None) -> torch.Tensor:
    """||x - mu(z)||^2 over the observed entries: X (N, D), mu (N, S, D) or (S, D) -> (N, S).

    `observed` (N, D) marks the entries that count; None means that X holds no NaN.
    """
    diff = mu - X[:, None, :]  # (N, S, D); this sign spares autograd a negation
    if observed is not None:
        diff = torch.where(observed[:, None, :], diff, 0.0)
    return diff.square().sum(-1)


def prior_ratio(pi: torch.Tensor) -> torch.Tensor:
    """pi_tilde_h = log((1 - pi_h) / pi_h) of Eq. (9), (H,)."""
    return torch.log1p(-pi) - torch.log(pi)


def pseudo_joint_from_errors(params: Params, K: torch.Tensor, errors: torch.Tensor) -> torch.Tensor:
    """Eq. (9) / 2 sigma^2 for states K (N, S, H) whose squared errors ||x - mu(z)||^2 are `errors` (N, S)."""
    return -errors / (2 * params.sigma2) - K.to(params.dtype) @ prior_ratio(params.pi)


def pseudo_joint_from_means(params: Params, X: torch.Tensor, K: torch.Tensor, mu: torch.Tensor,
                            observed: torch.Tensor | None) -> torch.Tensor:
    """Eq. (9) / 2 sigma^2 for states K with decoder means mu. Returns (N, S)."""
    return pseudo_joint_from_errors(params, K, squared_error(X, mu, observed))


def log_pseudo_joint_unchecked(params: Params, X: torch.Tensor, K: torch.Tensor,
                               observed: torch.Tensor | None) -> torch.Tensor:
    """`log_pseudo_joint` without input checks, for the training loop. Returns (N, S)."""
    Z = K.to(params.dtype)  # (N, S, H) as numbers, converted once for the decoder and the prior term
    return pseudo_joint_from_means(params, X, Z, means(params, Z), observed)


def byte_table(params: Params, n_words: int) -> torch.Tensor | None:
    """The z-linear parts of Eq. (9) tabulated per byte, for states packed into n_words words (states.py).

    Byte j of a state's words holds latents 8j .. 8j + 7. Row 256 j + v of the table holds z^T W[0]
    (first columns) and pi_tilde^T z (last column) for the state whose active latents are the set
    bits of value v in byte j. For any binary z, both are the sum of one row per byte: 8 additions
    per 64 latents where z^T W[0] takes 64 multiply-adds, and the states need no unpacking.
    Returns (256 n_bytes, out + 1), n_bytes = 8 n_words; or None where the table would be larger than
    TABLE_BYTES: reading rows of a table that does not stay in the cache is slower than the product.
    """
    n_bytes = 8 * n_words
    out = params.W[0].shape[1]
    if 256 * n_bytes * (out + 1) * params.W[0].element_size() > TABLE_BYTES:
        return None
    bits = unpack_states(torch.arange(256, device=params.device)[:, None], 8).to(params.dtype)  # (256, 8)
    linear = torch.cat([params.W[0], prior_ratio(params.pi)[:, None]], dim=1)  # (H, out + 1), padded:
    linear = F.pad(linear, (0, 0, 0, 8 * n_bytes - params.H)).reshape(n_bytes, 8, out + 1)
    return (bits @ linear).reshape(256 * n_bytes, out + 1)


def log_pseudo_joint_of_words(params: Params, table: torch.Tensor | None, X: torch.Tensor, words: torch.Tensor,
                              observed: torch.Tensor | None) -> torch.Tensor:
    """`log_pseudo_joint_unchecked` for packed states (N, M, W), given `byte_table(params, W)`. Returns (N, M)."""
    if table is None:
        return log_pseudo_joint_unchecked(params, X, unpack_states(words, params.H), observed)
    n_bytes = 8 * words.shape[-1]
    rows = state_bytes(words).reshape(-1, n_bytes).long()  # (R, n_bytes), R = N M
    rows = rows + 256 * torch.arange(n_bytes, device=words.device)
    linear = F.embedding_bag(rows, table, mode="sum")  # (R, out + 1): z^T W[0] and pi_tilde^T z
    mu = _upper_layers(params, linear[:, :-1] + params.b[0])[-1].reshape(*words.shape[:-1], params.D)
    prior = linear[:, -1].reshape(words.shape[:-1])  # (N, M)
    return -squared_error(X, mu, observed) / (2 * params.sigma2) - prior


def log_pseudo_joint(params: Params, X, K) -> torch.Tensor:
    """The z-dependent part of log p(x, z), Eq. (9) divided by 2 sigma^2. Returns (N, S).

    -||x - mu(z)||^2 / (2 sigma^2) - pi_tilde^T z with pi_tilde_h = log((1 - pi_h) / pi_h).
    Comparing these values is the same as comparing log-joints (Eq. 8).
    """
    X = check_data(X, params.D, params.device, params.dtype)
    K = check_states(K, params.H, len(X), params.device)
    return log_pseudo_joint_unchecked(params, X, K, observed_mask(X))


def log_joint_constant(params: Params, X: torch.Tensor) -> torch.Tensor:
    """log p(x, z) - log_pseudo_joint: the terms of Eq. (1) that do not depend on z. Returns (N,)."""
    D_observed = (~torch.isnan(X)).sum(dim=1).to(params.dtype)  # (N,)
    return -0.5 * D_observed * torch.log(2 * math.pi * params.sigma2) + torch.log1p(-params.pi).sum()


def log_joint(params: Params, X, K) -> torch.Tensor:
    """log p(x, z) = log N(x; mu(z), sigma^2 I) + log Bern(z; pi) with all constants, Eq. (1).

    NaN entries of X are missing and are left out of the likelihood. X (N, D), K (N, S, H) or (S, H)
    shared by all data points. Returns (N, S).
    """
    X = check_data(X, params.D, params.device, params.dtype)
    return log_pseudo_joint(params, X, K) + log_joint_constant(params, X)[:, None]


def deep_from_linear(params: Params, hidden: tuple[int, ...]) -> Params:
    """A deep decoder that equals the linear decoder `params` on binary states (Sec. 3, Fig. 3).

    The linear map z W + b becomes the output layer; each hidden layer in front of it starts as the
    identity with zero bias, so for z in {0, 1}^H every ReLU passes z through unchanged and the deep
    model starts as exactly the linear one. Every hidden layer must therefore have H units.
    """
    if len(params.W) != 1:
        raise ValueError(f"params must be a linear decoder (one layer), got {len(params.W)} layers")
    if any(size != params.H for size in hidden):
        raise ValueError(f"identity layers need hidden sizes equal to H={params.H}, got {tuple(hidden)}")
    like = dict(device=params.device, dtype=params.dtype)
    W = [torch.eye(params.H, **like) for _ in hidden] + [params.W[0].detach().clone()]
    b = [torch.zeros(params.H, **like) for _ in hidden] + [params.b[0].detach().clone()]
    return Params(W, b, params.pi.clone(), params.sigma2.clone())
