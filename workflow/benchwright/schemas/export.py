"""Derived artifacts of the models: JSON schemas (workflow/schemas/) and the field reference (docs/)."""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..errors import unwrap_annotation
from . import EXPORTED

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schemas() -> dict[str, str]:
    """File name -> JSON schema text, for every exported model. ``$schema`` lets Snakemake's validate() use them."""
    out = {}
    for stem, model in EXPORTED.items():
        schema = {"$schema": SCHEMA_DIALECT, **model.model_json_schema()}
        out[f"{stem}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def _type_name(annotation: Any) -> str:
    parts = []
    for t in unwrap_annotation(annotation):
        origin = typing.get_origin(t)
        if t is type(None):
            parts.append("null")
        elif origin is typing.Literal:
            parts.extend(repr(a) for a in typing.get_args(t))
        elif origin in (tuple, list):
            parts.append(f"list of {_type_name(typing.get_args(t)[0])}")
        elif origin is dict:
            k, v = typing.get_args(t)
            parts.append(f"map {_type_name(k)} -> {_type_name(v)}")
        elif isinstance(t, type) and issubclass(t, BaseModel):
            parts.append(t.__name__)
        elif isinstance(t, type) and hasattr(t, "__members__"):
            parts.append(" | ".join(repr(m.value) for m in t))  # enums
        elif isinstance(t, type):
            parts.append(t.__name__)
        else:
            parts.append(str(t))
    return " or ".join(dict.fromkeys(parts))


def _models_in(model: type[BaseModel], seen: dict[str, type[BaseModel]]) -> None:
    if model.__name__ in seen:
        return
    seen[model.__name__] = model
    for field in model.model_fields.values():
        stack = [field.annotation]
        while stack:
            for t in unwrap_annotation(stack.pop()):
                if isinstance(t, type) and issubclass(t, BaseModel):
                    _models_in(t, seen)
                else:
                    stack.extend(typing.get_args(t))


def field_reference() -> str:
    """Markdown reference of every config model and field, generated from the models' docstrings."""
    lines = ["# Configuration reference", "",
             "Generated from the pydantic models in `workflow/benchwright/schemas/` by `benchwright docs`; "
             "do not edit by hand. Unknown keys are errors everywhere.", ""]
    for stem, root in EXPORTED.items():
        seen: dict[str, type[BaseModel]] = {}
        _models_in(root, seen)
        lines += [f"## {stem} (`{root.__name__}`)", ""]
        for name, model in seen.items():
            doc = (model.__doc__ or "").strip().splitlines()
            lines += [f"### {name}", ""]
            if doc and not doc[0].startswith("!!!") and "Usage docs" not in doc[0]:
                lines += [" ".join(d.strip() for d in doc if d.strip()), ""]
            lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
            for key, field in model.model_fields.items():
                default = "required" if field.is_required() else f"`{_default(field.default)}`"
                desc = (field.description or "").replace("\n", " ").replace("|", "\\|")
                lines.append(f"| `{key}` | {_type_name(field.annotation).replace('|', '&#124;')} | {default} | {desc} |")
            lines.append("")
    return "\n".join(lines)


def _default(value: Any) -> str:
    if isinstance(value, BaseModel):
        return "{}" if not value.model_dump(exclude_defaults=True) else json.dumps(value.model_dump(mode="json"))
    if hasattr(value, "value"):
        return str(value.value)
    if isinstance(value, tuple):
        return json.dumps([getattr(v, "value", v) for v in value])
    return json.dumps(value)


def write_or_check(files: dict[str, str], out_dir: Path, check: bool) -> list[str]:
    """Write the files (atomically) or, with ``check``, return the names whose content differs."""
    from ..fsutil import atomic_write_text

    stale = []
    for name, text in files.items():
        path = out_dir / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            stale.append(name)
            if not check:
                atomic_write_text(path, text)
    return stale
