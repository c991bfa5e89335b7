"""Training configuration shared by both backends, and the paper's presets.

The numbers of the presets are the settings of the paper's experiments (Appendix B, Tables 3 and 6)
as the authors ran them; `../shared/NOTES.md` lists where each one comes from. Their runs made children
by bit flips alone (the paper: "Crossover could also be employed"), so crossover is off in every preset;
`crossover=True` gives the full Algorithm 1 with one-point crossover before the flips.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Literal

Selection = Literal["fitness", "uniform", "tvo-compatible"]
Mutation = Literal["randflip", "sparseflip"]
Missing = Literal["marginalize", "fill", "tvo-compatible"]
LrSchedule = Literal["triangular", "triangular2"]

SELECTIONS: tuple[Selection, ...] = ("fitness", "uniform", "tvo-compatible")
MUTATIONS: tuple[Mutation, ...] = ("randflip", "sparseflip")
MISSING: tuple[Missing, ...] = ("marginalize", "fill", "tvo-compatible")
LR_SCHEDULES: tuple[LrSchedule, ...] = ("triangular", "triangular2")


@dataclass(frozen=True)
class TrainConfig:
    """Everything Algorithm 1 needs besides the data.

    H latents, decoder hidden layer sizes `hidden` (empty: a linear decoder), S = |Phi(n)| states per
    data point. Each generation selects `n_parents` parents; with `crossover` every pair of parents
    gives two children (so `n_children` must be n_parents - 1), without it every parent gets
    `n_children` mutated copies. `selection` is the paper's fitness-proportional choice per data point,
    a uniform choice, or the authors' published behaviour (`tvo-compatible`, see NOTES.md).
    `missing` says how NaN entries enter the decoder gradient: left out of the likelihood
    (`marginalize`, the exact gradient of Eq. 7) or filled with the Eq. 15 estimate first (`fill`, as
    the paper's inpainting runs do); `tvo-compatible` also takes sigma^2 of Eq. (5) on the filled data
    points, over all D N entries, as the authors' code does (a smaller sigma^2: a filled entry's error
    is only the spread of mu_d over Phi). The learning rate cycles between `lr_min` and `lr_max`, rising
    for `half_cycle` epochs and falling for as many; with `lr_schedule="triangular2"` each whole cycle
    climbs half as far above `lr_min` as the one before (Smith, 2017). `sigma2_init=None` starts sigma^2 at the mean
    variance of the data's observed entries; pi starts at 1/H.
    """

    H: int
    hidden: tuple[int, ...]
    S: int
    n_parents: int
    n_children: int
    n_generations: int
    crossover: bool = False
    mutation: Mutation = "randflip"
    selection: Selection = "fitness"
    bitflip_frequency: float | None = None
    lr_min: float = 1e-4
    lr_max: float = 0.05
    half_cycle: int = 10
    lr_schedule: LrSchedule = "triangular"
    batch_size: int = 32
    epochs: int = 400
    sigma2_init: float | None = None
    missing: Missing = "marginalize"

    def __post_init__(self):
        positive = ("H", "S", "n_parents", "n_children", "n_generations", "batch_size", "half_cycle")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {getattr(self, name)}")
        if self.epochs < 0:
            raise ValueError(f"TrainConfig.epochs must be >= 0, got {self.epochs}")
        if any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden layer sizes must be positive, got {self.hidden}")
        if self.S > 2**self.H:
            raise ValueError(f"S={self.S} distinct states are impossible with H={self.H} latents (2^H={2**self.H})")
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {self.selection!r}")
        if self.mutation not in MUTATIONS:
            raise ValueError(f"mutation must be one of {MUTATIONS}, got {self.mutation!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.missing not in MISSING:
            raise ValueError(f"missing must be one of {MISSING}, got {self.missing!r}")
        if self.crossover and self.n_children != self.n_parents - 1:
            raise ValueError(
                "with crossover every pair of parents gives two children, so n_children must be "
                f"n_parents - 1 = {self.n_parents - 1}, got {self.n_children}"
            )
        if self.crossover and (self.n_parents < 2 or self.H < 2):
            raise ValueError("crossover needs at least two parents and two latents")
        if self.mutation == "randflip" and not self.crossover and self.n_children > self.H:
            raise ValueError(f"randflip flips a different bit for each child: n_children={self.n_children} > H={self.H}")
        if not 0 < self.lr_min <= self.lr_max:
            raise ValueError(f"need 0 < lr_min <= lr_max, got {self.lr_min}, {self.lr_max}")
        if self.sigma2_init is not None and not self.sigma2_init > 0:
            raise ValueError(f"sigma2_init must be > 0, got {self.sigma2_init}")
        if self.bitflip_frequency is not None and not 0 < self.bitflip_frequency <= 1:
            raise ValueError(f"bitflip_frequency must be in (0, 1], got {self.bitflip_frequency}")

    @property
    def n_new_states(self) -> int:
        """Children per data point and E-step, over all generations."""
        per_generation = self.n_parents * (self.n_parents - 1) if self.crossover else self.n_parents * self.n_children
        return per_generation * self.n_generations

    def with_(self, **changes) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


_BARS = TrainConfig(
    H=8, hidden=(8,), S=64, n_parents=3, n_children=2, n_generations=1,
    lr_min=1e-4, lr_max=0.05, half_cycle=10, batch_size=32, epochs=400, sigma2_init=0.01,
)
_HOUSE_8x8 = TrainConfig(
    H=64, hidden=(64,), S=200, n_parents=10, n_children=9, n_generations=4,
    lr_min=1e-4, lr_max=0.01, half_cycle=10, batch_size=32, epochs=500,
)
_HOUSE_12x12 = TrainConfig(
    H=512, hidden=(512,), S=64, n_parents=5, n_children=4, n_generations=1,
    lr_min=1e-4, lr_max=0.05, half_cycle=10, batch_size=32, epochs=500,
)

PRESETS: dict[str, TrainConfig] = {
    "bars": _BARS,
    "correlated-bars": _BARS,
    "house-15": _HOUSE_8x8,
    "house-25": _HOUSE_8x8,
    "house-50": _HOUSE_12x12,
    "inpaint-house-50": _HOUSE_12x12.with_(lr_max=0.01, half_cycle=20, missing="fill"),
    # The authors give no learning rate or epoch count for this run; these are our choices.
    "natural-patches": TrainConfig(
        H=300, hidden=(300,), S=100, n_parents=8, n_children=7, n_generations=2,
        lr_min=1e-4, lr_max=0.01, half_cycle=10, batch_size=32, epochs=100,
    ),
}


def preset(name: str) -> TrainConfig:
    """The TrainConfig of a named preset, with a clear error for unknown names."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]


def typed_fields(config_fields: dict) -> dict:
    """TrainConfig fields as JSON holds them, typed as TrainConfig wants them (lists become tuples);
    unknown names are refused."""
    known = {f.name for f in fields(TrainConfig)}
    unknown = set(config_fields) - known
    if unknown:
        raise ValueError(f"unknown TrainConfig fields {sorted(unknown)}; the fields are {sorted(known)}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in config_fields.items()}


def config_from_fields(config_fields: dict) -> TrainConfig:
    """A TrainConfig from its fields as JSON holds them (e.g. the "config" of a result file); a field
    the file predates takes its default."""
    return TrainConfig(**typed_fields(config_fields))


@dataclass(frozen=True)
class ImageSettings:
    """The data side of an image preset: the image, the patch size, the added noise, the missing pixels.

    Patches are all overlapping `patch_size` x `patch_size` windows (Appendix B.2); `noise_sigma` is the
    standard deviation of the white Gaussian noise added on the 0..255 scale (not clipped);
    `missing_fraction` of the pixels is removed for inpainting (Appendix C).
    """

    image: str
    patch_size: int
    noise_sigma: float = 0.0
    missing_fraction: float = 0.0

    def __post_init__(self):
        if self.patch_size < 1 or self.noise_sigma < 0 or not 0 <= self.missing_fraction < 1:
            raise ValueError(f"impossible image settings {self}")


IMAGE_SETTINGS: dict[str, ImageSettings] = {
    "house-15": ImageSettings("house.png", 8, noise_sigma=15.0),
    "house-25": ImageSettings("house.png", 8, noise_sigma=25.0),
    "house-50": ImageSettings("house.png", 12, noise_sigma=50.0),
    "inpaint-house-50": ImageSettings("house.png", 12, missing_fraction=0.5),
}


def image_settings(name: str) -> ImageSettings:
    """The data settings of an image preset, with a clear error for presets that are not about an image."""
    if name not in IMAGE_SETTINGS:
        raise ValueError(f"preset {name!r} has no image settings; image presets are {sorted(IMAGE_SETTINGS)}")
    return IMAGE_SETTINGS[name]
