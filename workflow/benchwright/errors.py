"""Errors a user can act on: each names the file, the field, what was expected and how to fix it."""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the config."""

    file: str
    field: str
    message: str
    fix: str

    def render(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}\n    problem: {self.message}\n    fix:     {self.fix}"


class BenchwrightError(Exception):
    """Base class of errors benchwright reports to the user without a traceback."""


class DiskWriteError(BenchwrightError, OSError):
    """Writing an output failed for lack of space (or a broken disk). Names the output; nothing was placed there."""


class CampaignError(BenchwrightError):
    """The campaign (or a file it uses) breaks the schema or a run rule. Carries every problem found."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = tuple(problems)
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        head = f"benchwright: the campaign is not valid ({count} problem{'s' if count != 1 else ''}); no job was started."
        return "\n".join([head, *(f"- {p.render()}" for p in self.problems)])


class InputError(CampaignError):
    """Bad input to a command that reads a campaign's results (compare, capacity): what, where, and the fix.
    Exits 2 like a bad campaign, without claiming that no job was started."""

    def __init__(self, command: str, where: str, field: str, message: str, fix: str):
        self.command = command
        super().__init__([Problem(where, field, message, fix)])

    def render(self) -> str:
        return f"benchwright {self.command}: " + "\n".join(p.render() for p in self.problems)


# --- pydantic errors -> problems ---------------------------------------------------------------------------

# Union members and validator wrappers add tags to an error's location (``int``, ``literal['auto']``,
# ``function-after[...]``); they are not keys the user wrote.
_TAG = re.compile(r"^(int|float|str|bool|none|[a-z_-]+\[.*\]|constrained-[a-z]+|\[key\])$")

_PATTERN_HINTS = {
    r"^[a-z0-9][a-z0-9._-]{0,63}$": "a lower-case name of letters, digits, '.', '_' or '-' (e.g. cpu-host)",
    r"^[A-Za-z0-9][A-Za-z0-9_.-]*$": "a name of letters, digits, '.', '_' or '-' starting with a letter or digit "
                                    "(it becomes a folder name; e.g. MyOrg)",
    r"^[A-Za-z0-9][A-Za-z0-9._-]*$": "a file name of letters, digits, '.', '_' or '-' starting with a letter or "
                                    "digit (e.g. data-v2.csv.gz)",
    r"^[A-Za-z0-9_.-]+$": "a name of letters, digits, '.', '_' or '-' (e.g. a100)",
    r"^[0-9a-f]{64}$": "64 lower-case hex digits, as `sha256sum FILE` prints them",
    r"^(https?|file|package)://.+": "a URL starting with http://, https://, file:// or package://",
}


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(part for part in loc if not (isinstance(part, str) and _TAG.match(part)))


def format_loc(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def unwrap_annotation(annotation: Any) -> list[Any]:
    """The concrete types an annotation may hold (Optional/Union/Annotated stripped)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return unwrap_annotation(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in unwrap_annotation(arg)]
    return [annotation]


def _model_at(model: type[BaseModel], loc: Sequence[Any]) -> type[BaseModel] | None:
    """The model class that owns the last element of ``loc`` (None when it is not a model field)."""
    current: Any = model
    for part in loc:
        nxt = None
        for cand in unwrap_annotation(current):
            origin = typing.get_origin(cand)
            if isinstance(cand, type) and issubclass(cand, BaseModel) and isinstance(part, str):
                field = cand.model_fields.get(part)
                if field is not None:
                    nxt = field.annotation
            elif origin in (dict, tuple, list) or origin is typing.Mapping:
                args = typing.get_args(cand)
                nxt = args[-1] if origin is dict else args[0]
            if nxt is not None:
                break
        if nxt is None:
            return None
        current = nxt
    for cand in unwrap_annotation(current):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
    return None


def _description(model: type[BaseModel] | None, key: Any) -> str | None:
    if model is None or not isinstance(key, str) or key not in model.model_fields:
        return None
    return model.model_fields[key].description


def _expected_values(ctx: dict[str, Any]) -> list[str]:
    expected = ctx.get("expected", "")
    quoted = re.findall(r"'([^']*)'", expected)
    return quoted or [v.strip() for v in re.split(r",| or ", expected) if v.strip()]


def problems_from_validation(err: ValidationError, model: type[BaseModel], file: str, prefix: tuple = ()) -> list[Problem]:
    """Turn pydantic's errors into one Problem per field, with a fix derived from the schema."""
    grouped: dict[tuple, list[dict[str, Any]]] = {}
    for e in err.errors():
        grouped.setdefault(_clean_loc(tuple(e["loc"])), []).append(e)
    problems = []
    for loc, errs in grouped.items():
        problems.append(_one_problem(loc, errs, model, file, prefix))
    return problems


def _one_problem(loc: tuple, errs: list[dict[str, Any]], model: type[BaseModel], file: str, prefix: tuple) -> Problem:
    field = format_loc(prefix + loc)
    first = errs[0]
    kind = first["type"]
    owner = _model_at(model, loc[:-1]) if loc else model
    key = loc[-1] if loc else None
    desc = _description(owner, key)
    given = first.get("input")

    if kind == "extra_forbidden":
        allowed = sorted(owner.model_fields) if owner else []
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        hint = f"did you mean `{close[0]}`? " if close else ""
        return Problem(file, field, f"unknown key `{key}`", f"{hint}Remove it or use one of: {', '.join(allowed)}.")
    if kind == "missing":
        return Problem(file, field, f"required key `{key}` is missing",
                       f"add `{key}:`" + (f" ({desc})" if desc else "") + ".")
    if kind == "enum" or kind == "literal_error":
        options = _expected_values(first.get("ctx", {}))
        close = difflib.get_close_matches(str(given), options, n=1, cutoff=0.5)
        hint = f"did you mean `{close[0]}`? " if close else ""
        return Problem(file, field, f"`{given}` is not allowed here",
                       f"{hint}Use one of: {', '.join(options)}.")
    if kind == "string_pattern_mismatch":
        pattern = first.get("ctx", {}).get("pattern", "")
        expected = _PATTERN_HINTS.get(pattern, f"text matching {pattern}")
        what = "the key " if first["loc"] and first["loc"][-1] == "[key]" else ""
        return Problem(file, field, f"{what}{given!r} is not valid here", f"write {expected}.")
    if kind == "value_error":
        msg = first["msg"].removeprefix("Value error, ")
        return Problem(file, field, msg, desc or "see the message above.")
    # Type and range errors: merge the messages of every union member ("a whole number, or 'auto'").
    messages = []
    for e in errs:
        m = e["msg"].removeprefix("Input should be ")
        if m not in messages:
            messages.append(m)
    expected = " or ".join(messages)
    fix = f"{desc}" if desc else "correct the value."
    return Problem(file, field, f"expected {expected}; got {given!r}", fix)


def suggest(name: str, known: Iterable[str]) -> str:
    """'Did you mean' text for an unknown name among known ones."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"did you mean `{close[0]}`? " if close else ""
    listing = ", ".join(known) if known else "(none)"
    return f"{hint}Known: {listing}."


def display_path(path: str | Path) -> str:
    """A path relative to the working directory when it is below it, absolute otherwise."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def enum_value(v: Any) -> Any:
    return v.value if isinstance(v, Enum) else v
