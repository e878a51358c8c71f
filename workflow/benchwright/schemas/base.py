"""Shared building blocks of every benchwright schema.

All config models are strict: a misspelled key in a campaign would otherwise be dropped silently and change
what is measured (``min_duraton_ms`` would read as "use the default"), so unknown keys are errors. They are
frozen because one validated config is shared by every rule of the DAG, and every field carries a docstring
that becomes its JSON-schema description.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints


class Spec(BaseModel):
    """Base class of all config models: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


Identifier = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
]
"""A lower-case name used in file names and Snakemake wildcards: letters, digits, '.', '_', '-'."""

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""64 lower-case hex digits."""

NonEmptyStr = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]

Auto = Literal["auto"]
"""Filled from the facts detected on the machine that runs the job."""

JsonScalar = str | int | float | bool


class Scenario(str, Enum):
    """MLPerf Inference scenarios, spelled as LoadGen and the submission tree spell them. ``Interactive`` (LLMs
    only) is LoadGen's Server under the model's ``-interactive`` token latency limits."""

    SingleStream = "SingleStream"
    MultiStream = "MultiStream"
    Server = "Server"
    Offline = "Offline"
    Interactive = "Interactive"


class Precision(str, Enum):
    """Numeric precision of the weights and activations a model runs at."""

    fp32 = "fp32"
    fp16 = "fp16"
    bf16 = "bf16"
    int8 = "int8"


class Division(str, Enum):
    closed = "closed"
    open = "open"


class RunMode(str, Enum):
    """``smoke``: short runs for development and CI, never submittable. ``submission``: official settings."""

    smoke = "smoke"
    submission = "submission"


class SystemType(str, Enum):
    datacenter = "datacenter"
    edge = "edge"
    both = "datacenter,edge"
