"""Phi(n) stored compactly: states packed into 64-bit words, duplicates found by sorting the words.

States are (..., H) uint8 tensors of 0/1 while they are bred and decoded; between batches they are
kept packed, (..., ceil(H / 64)) int64 words with bit h of state z in bit h % 64 of word h // 64
(the same layout as `tvae_ref.pack_states`, read as signed integers): 8 bytes per 64 latents.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _bit_weights(device: torch.device) -> torch.Tensor:
    return (1 << torch.arange(8, device=device)).to(torch.uint8)  # (8,) 1, 2, ..., 128


def pack_states(K: torch.Tensor) -> torch.Tensor:
    """Pack binary states (..., H) into 64-bit words (..., ceil(H / 64)) int64."""
    H = K.shape[-1]
    n_words = -(-H // 64)
    bits = F.pad(K.to(torch.uint8), (0, 64 * n_words - H))  # (..., 64 W)
    as_bytes = (bits.reshape(*K.shape[:-1], 8 * n_words, 8) * _bit_weights(K.device)).sum(-1, dtype=torch.uint8)
    return as_bytes.view(torch.int64)  # little-endian bytes of each word: bit h lands in bit h % 64


def unpack_states(words: torch.Tensor, H: int) -> torch.Tensor:
    """Inverse of `pack_states`: (..., W) int64 -> (..., H) uint8."""
    as_bytes = words.contiguous().view(torch.uint8)  # (..., 8 W)
    bits = (as_bytes[..., None] >> torch.arange(8, device=words.device, dtype=torch.uint8)) & 1  # (..., 8 W, 8)
    return bits.reshape(*words.shape[:-1], -1)[..., :H]


def lexicographic_order(words: torch.Tensor) -> torch.Tensor:
    """Per row, the order (N, T) that sorts states (N, T, W) by their words; equal states keep their order."""
    N, T, n_words = words.shape
    order = torch.arange(T, device=words.device).expand(N, T)
    for w in reversed(range(n_words)):  # least significant word first: a stable radix sort
        key = words[..., w].gather(1, order)
        order = order.gather(1, torch.sort(key, dim=1, stable=True).indices)
    return order


def duplicate_words(words: torch.Tensor) -> torch.Tensor:
    """For packed states (N, T, W): True where a state equals an earlier state of the same row. (N, T)."""
    order = lexicographic_order(words)  # (N, T)
    in_order = words.gather(1, order[..., None].expand_as(words))
    repeat = F.pad((in_order[:, 1:] == in_order[:, :-1]).all(-1), (1, 0))  # (N, T), the first of a run is kept
    return torch.zeros_like(repeat).scatter_(1, order, repeat)


def is_duplicate(K: torch.Tensor) -> torch.Tensor:
    """For states (N, T, H): True where a state equals an earlier state of the same row. (N, T)."""
    return duplicate_words(pack_states(K))


def keep_fittest(words: torch.Tensor, fitness: torch.Tensor, S: int) -> torch.Tensor:
    """Indices (N, S) of the S fittest distinct states of each row of (N, T, W) words, fittest first.

    Repeats rank below every distinct state (fitness is finite), and a stable sort keeps the earlier
    of two equally fit states first, so older states win ties.
    """
    ranked = torch.where(duplicate_words(words), -torch.inf, fitness)  # (N, T)
    return torch.sort(ranked, dim=1, descending=True, stable=True).indices[:, :S]


def init_states(N: int, S: int, H: int, generator: torch.Generator, p_on: float | None = None,
                device: torch.device | str = "cpu") -> torch.Tensor:
    """S distinct random states per data point, (N, S, H) uint8; bits are on with probability p_on (default 1/H).

    States that repeat within a row are drawn again, with p_on rising towards 1/2 so that dense
    regions of the state space are reached when the sparse ones are used up.
    """
    if S > 2**H:
        raise ValueError(f"S={S} distinct states are impossible with H={H} latents")
    p = 1.0 / H if p_on is None else p_on
    K = (torch.rand(N, S, H, generator=generator, device=device) < p).to(torch.uint8)
    while (duplicate := is_duplicate(K)).any():
        p = min(0.5, 1.25 * p)
        redraw = torch.rand(int(duplicate.sum()), H, generator=generator, device=device) < p
        K[duplicate] = redraw.to(torch.uint8)
    return K


def init_packed_states(N: int, S: int, H: int, generator: torch.Generator, device: torch.device | str = "cpu",
                       chunk: int = 4096) -> torch.Tensor:
    """`init_states` for a large data set, packed chunk by chunk: (N, S, ceil(H / 64)) int64."""
    return torch.cat([pack_states(init_states(min(chunk, N - start), S, H, generator, device=device))
                      for start in range(0, N, chunk)])
