"""Pydantic validation errors as one-line problems: the field's path and what it expects, with YAML-aware hints.

``validate_model`` raises them as an :class:`~sim.errors.InputError`; the village CSV words each bad cell with
``_friendly_message``. No class names reach the user, and a misspelt key gets one did-you-mean line.
"""

from __future__ import annotations

import re
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from sim.errors import InputError, Problem, close_match, did_you_mean
from sim.schema import Strict


def validate_model[M: BaseModel](model_cls: type[M], data: Any, source: str) -> M:
    """Validate ``data`` as ``model_cls``, turning pydantic errors into an :class:`InputError`."""
    try:
        return model_cls.model_validate(data)
    except ValidationError as exc:
        raise InputError(source, _problems(exc, model_cls)) from None


def _problems(exc: ValidationError, model_cls: type[BaseModel]) -> list[Problem]:
    problems, seen = [], set()
    errors = exc.errors()
    # A misspelt key that the did-you-mean line names is not also reported as a missing key.
    meant = {
        loc[:-1] + (close,)
        for loc in (_clean_loc(error["loc"]) for error in errors if error["type"] == "extra_forbidden")
        if (close := close_match(str(loc[-1]), _fields_at(model_cls, loc[:-1]))) is not None
    }
    for error in errors:
        loc = _clean_loc(error["loc"])
        field_path = _format_loc(loc)
        if error["type"] == "missing" and loc in meant:
            continue
        if error["type"] == "extra_forbidden":
            options = _fields_at(model_cls, loc[:-1])
            message = f"unknown key{did_you_mean(str(loc[-1]), options)}"
            if options:
                message += f" (allowed: {', '.join(sorted(options))})"
        else:
            message = _friendly_message(error, _annotation_at(model_cls, loc))
        key = (field_path, message)
        if key not in seen:
            seen.add(key)
            problems.append(Problem(field_path, message))
    return problems


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-branch labels (e.g. 'int', 'list[str]', 'constrained-int') from an error location."""
    return tuple(part for part in loc if not (isinstance(part, str) and _is_branch_label(part)))


def _is_branch_label(part: str) -> bool:
    return part in {"int", "str", "float"} or part.startswith("constrained-") or part.endswith("]")


def _format_loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


YAML_TEXT_NUMBER = re.compile(r"[-+]?(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)[eE][-+]?\d+")
"""Numbers such as ``1e12`` or ``1.5e6`` that PyYAML (YAML 1.1) reads as text: it wants a dot and a signed exponent."""


def _yaml_number(text: str, whole: bool) -> str:
    """How to write ``text`` (e.g. '1e12') so YAML reads it as a number: digits for an integer field, else 1.0e+12."""
    number = float(text.replace("_", ""))
    if whole and number.is_integer():
        return f"{int(number)}"
    mantissa, exponent = f"{number:.15e}".split("e")
    mantissa = mantissa.rstrip("0")
    return f"{mantissa}0e{int(exponent):+d}" if mantissa.endswith(".") else f"{mantissa}e{int(exponent):+d}"


def _friendly_message(error: dict[str, Any], annotation: Any = None) -> str:
    kind, ctx, value = error["type"], error.get("ctx", {}), error.get("input")
    if kind == "missing":
        return "required field is missing"
    if (
        kind in ("int_type", "float_type", "int_parsing", "float_parsing")
        and isinstance(value, str)
        and YAML_TEXT_NUMBER.fullmatch(value)
    ):
        whole = kind.startswith("int")
        return f"{value!r} is read by YAML as text, not a number; write {_yaml_number(value, whole)} for a number"
    if kind == "model_type":
        model = _model_of(annotation)
        expected = model.expected_mapping() if model is not None and issubclass(model, Strict) else "a mapping of keys to values"
        return f"must be {expected}, got {value!r}"
    if kind == "greater_than" and ctx.get("gt") == 0:
        noun = "integer" if annotation is int else "number"
        return f"must be a positive {noun}, got {value!r}"
    message = error["msg"]
    for prefix, replacement in (("Input should be ", "must be "), ("Value error, ", ""), ("Assertion failed, ", "")):
        if message.startswith(prefix):
            message = replacement + message[len(prefix) :]
    if message.startswith("must be ") and kind != "value_error" and ", got " not in message:
        message += f", got {value!r}"
    if kind == "literal_error" and isinstance(value, str):
        message += did_you_mean(value, [str(option) for option in get_args(annotation)])
    return message


def _annotation_at(model_cls: type[BaseModel], loc: tuple[Any, ...]) -> Any:
    """The type annotation of the field at ``loc`` (list indices skipped, mapping keys to their values' type), or None."""
    current: Any = model_cls
    for part in loc:
        if isinstance(part, int):
            continue
        mapping = next((arg for arg in (current, *get_args(current)) if get_origin(arg) is dict), None)
        if mapping is not None:  # e.g. arms: dict[str, Arm]; the key is a name, not a field
            current = get_args(mapping)[1]
            continue
        model = _model_of(current)
        field = model.model_fields.get(part) if model else None
        if field is None:
            return None
        current = field.annotation
    return current


def _fields_at(model_cls: type[BaseModel], loc: tuple[Any, ...]) -> set[str]:
    """The keys allowed at ``loc`` inside ``model_cls`` (for 'did you mean' hints)."""
    model = _model_of(_annotation_at(model_cls, loc))
    return set(model.model_fields) if model else set()


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as ``X | None`` or ``list[X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is not None or get_args(annotation):
        for arg in get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None
