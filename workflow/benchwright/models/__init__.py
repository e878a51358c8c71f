"""Model architectures by name, as benchmark files refer to them (`model.architecture`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .digits import DigitsResNet

ARCHITECTURES: dict[str, Callable[..., Any]] = {
    "digits-resnet": DigitsResNet,
}


class UnknownArchitecture(ValueError):
    pass


def build(architecture: str, parameters: Mapping[str, Any], *, seed: int | None = None):
    """Instantiate a registered architecture with the benchmark's parameters.

    With ``seed``, the initial weights are drawn from a generator seeded with it, so training from them is
    reproducible; the global RNG state is left as it was.
    """
    if seed is not None:
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return build(architecture, parameters)
    try:
        factory = ARCHITECTURES[architecture]
    except KeyError:
        raise UnknownArchitecture(f"unknown model architecture {architecture!r}; known: "
                                  f"{', '.join(sorted(ARCHITECTURES))}") from None
    try:
        return factory(**parameters)
    except TypeError as exc:
        raise UnknownArchitecture(f"architecture {architecture!r} does not take these parameters: {exc}") from None
