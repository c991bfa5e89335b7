"""Phi(n) stored compactly: states packed into 64-bit words, duplicates found by sorting the words.

States are (..., H) uint8 tensors of 0/1 while they are bred and decoded; between batches they are
kept packed, (..., ceil(H / 64)) int64 words with bit h of state z in bit h % 64 of word h // 64
(the same layout as `tvae_ref.pack_states`, read as signed integers): 8 bytes per 64 latents.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F


def pack_states(K: torch.Tensor) -> torch.Tensor:
    """Pack binary states (..., H) into 64-bit words (..., ceil(H / 64)) int64.

    Each group of 8 bits, read as one int64 (one bit in the low bit of each byte), is folded into its
    low byte by three shift-or steps; the 8 bytes of a word are then read as one int64 (little-endian).
    """
    H = K.shape[-1]
    n_words = -(-H // 64)
    bits = F.pad(K.to(torch.uint8), (0, 64 * n_words - H)).contiguous()  # (..., 64 W)
    v = bits.view(torch.int64)  # (..., 8 W): bit k of a byte group sits at bit 8 k
    v = v | (v >> 7)
    v = v | (v >> 14)
    v = v | (v >> 28)  # now bit k of the group sits at bit k
    return (v & 0xFF).to(torch.uint8).view(torch.int64)  # (..., W)


def state_bytes(words: torch.Tensor) -> torch.Tensor:
    """The bytes of packed states (..., W) -> (..., 8 W) uint8: byte j holds latents 8j .. 8j + 7, low bit first."""
    flat = words.contiguous().reshape(-1)  # one dimension: even an empty selection of rows views as bytes
    return flat.view(torch.uint8).reshape(*words.shape[:-1], 8 * words.shape[-1])


def unpack_states(words: torch.Tensor, H: int) -> torch.Tensor:
    """Inverse of `pack_states`: (..., W) int64 -> (..., H) uint8, spreading each byte over 8 bytes."""
    v = state_bytes(words).to(torch.int64)  # (..., 8 W)
    v = (v | (v << 28)) & 0x0000000F0000000F
    v = (v | (v << 14)) & 0x0003000300030003
    v = (v | (v << 7)) & 0x0101010101010101  # bit k of the byte now sits at bit 8 k
    return v.view(torch.uint8)[..., :H]  # (..., 64 W) -> (..., H)


@lru_cache(maxsize=16)
def _pairs(P: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The pairs (i, j), i < j, of P parents in lexicographic order: two (P (P - 1) / 2,) index tensors."""
    return tuple(torch.combinations(torch.arange(P, device=device), 2).T)


def crossover_words(words: torch.Tensor, cut: torch.Tensor, H: int) -> torch.Tensor:
    """One-point crossover on packed parents (N, P, W): pair k = (i, j), in lexicographic order, cut
    after bit cut[:, k] gives (i's head | j's tail) and (j's head | i's tail). Returns (N, P (P - 1), W)."""
    N, P, n_words = words.shape
    i, j = _pairs(P, words.device)  # (pairs,), (pairs,)
    shift = (cut[..., None] - 64 * torch.arange(n_words, device=words.device)).clamp(0, 64)  # (N, pairs, W)
    head = ~torch.bitwise_left_shift(torch.full_like(shift, -1), shift)  # the bits before the cut
    w_i, w_j = words.index_select(1, i), words.index_select(1, j)  # (N, pairs, W)
    swap = (w_i ^ w_j) & head
    return torch.stack([w_j ^ swap, w_i ^ swap], dim=2).reshape(N, P * (P - 1), n_words)


def flip_words(words: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """Children of packed states (N, M, W) that each flip one bit: bits (N, M, C) -> (N, M C, W)."""
    N, M, C = bits.shape
    word = torch.arange(words.shape[-1], device=words.device)  # (W,)
    one_hot = torch.where(word == bits[..., None] // 64, torch.bitwise_left_shift(1, bits[..., None] % 64), 0)
    return (words[:, :, None, :] ^ one_hot).reshape(N, M * C, words.shape[-1])


def lexicographic_order(words: torch.Tensor) -> torch.Tensor:
    """Per row, the order (N, T) that sorts states (N, T, W) by their words; equal states keep their order."""
    order = torch.sort(words[..., -1], dim=1, stable=True).indices  # least significant word first:
    for w in reversed(range(words.shape[-1] - 1)):  # a stable radix sort over the words
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

    Repeats rank below every distinct state (fitness is finite), and among equally fit states the
    earlier one ranks first (a stable sort), so older states win ties.
    """
    ranked = torch.where(duplicate_words(words), -torch.inf, fitness)  # (N, T)
    if ranked.dtype == torch.float32:
        return _top_float32(ranked, S)
    return torch.sort(ranked, dim=1, descending=True, stable=True).indices[:, :S]


def _top_float32(ranked: torch.Tensor, S: int) -> torch.Tensor:
    """The first S of a stable descending sort of float32 rows (N, T), found by topk on unique keys:
    the float's bits made to order like the floats in the high half of an int64, the position
    reversed (earlier ranks higher among equals) in the low half. Several times faster than the sort."""
    T = ranked.shape[1]
    bits = (ranked + 0.0).view(torch.int32)  # + 0.0 turns -0.0 into 0.0, which the sort holds equal
    monotone = bits ^ ((bits >> 31) & 0x7FFFFFFF)  # negative floats: larger magnitude, smaller key
    reversed_position = T - 1 - torch.arange(T, device=ranked.device)
    keys = (monotone.to(torch.int64) << 32) | reversed_position  # (N, T), all different
    return T - 1 - (torch.topk(keys, S, dim=1).values & 0xFFFFFFFF)


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
                       chunk: int = 1024, rows: slice = slice(None)) -> torch.Tensor:
    """`init_states` for a large data set, packed chunk by chunk: (N, S, ceil(H / 64)) int64.

    `rows` (a slice of 0 .. N - 1) keeps only those rows, chunk by chunk; the states of all N points
    are still drawn, so that the generator moves on as without it.
    """
    lo, hi, _ = rows.indices(N)
    return torch.cat([pack_states(init_states(min(chunk, N - start), S, H, generator, device=device))[
                      max(lo - start, 0) : max(hi - start, 0)] for start in range(0, N, chunk)])
