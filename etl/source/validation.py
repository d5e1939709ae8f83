"""Parse a landing line and check it against its dataset's JSON Schema in schemas/."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema_rs
import orjson

from etl.settings import SCHEMAS_DIR

# Longest reason kept: a schema error quotes the offending value, which can be a megabyte.
MAX_MESSAGE_CHARS = 500
# Longest path of an unknown field kept (see unknown_fields).
MAX_FIELD_CHARS = 200

# The escapes of a quote (which hides it from _hidden_problems' count) and of NUL.
_RARE_ESCAPES = re.compile(rb"\\u00(?:22|00)", re.IGNORECASE)


@dataclass(frozen=True)
class RecordError:
    """Why a record was rejected: a JSON path into the record and a message."""

    path: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class RecordRejected(Exception):
    """A record that must go to quarantine, with every reason found."""

    def __init__(self, errors: list[RecordError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


def json_path(parts: list[str | int] | tuple[str | int, ...]) -> str:
    """`$.purchases.products[0].sku` from ['purchases', 'products', 0, 'sku']."""
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


@cache
def schema_validator(dataset: str) -> jsonschema_rs.Validator:
    """The compiled validator for schemas/<dataset>.schema.json (formats such as `date` checked)."""
    schema = orjson.loads((SCHEMAS_DIR / f"{dataset}.schema.json").read_bytes())
    return jsonschema_rs.validator_for(schema, validate_formats=True)


def decode(raw: bytes) -> Any:
    """Decode one line of JSON.

    Raises:
        RecordRejected: the line is not JSON, repeats a key within an object (orjson would keep
            the last silently), nests too deeply, or holds a NUL character, which PostgreSQL
            text cannot store.
    """
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise RecordRejected([RecordError("$", f"malformed JSON: {error}")]) from None
    try:
        suspect = _hidden_problems(raw, record)
    except orjson.JSONEncodeError:
        raise RecordRejected([RecordError("$", "JSON nested more than 255 levels deep")]) from None
    if suspect:
        errors = _repeated_keys(raw) + _nul_characters(record, [])
        if errors:
            raise RecordRejected(errors)
    return record


def validate(record: Any, dataset: str) -> dict[str, Any]:
    """Check a decoded record against the dataset's schema and return it.

    Raises:
        RecordRejected: the record breaks the schema (every violation listed).
    """
    validator = schema_validator(dataset)
    if not validator.is_valid(record):
        errors = [
            RecordError(json_path(error.instance_path), _shorten(error.message))
            for error in validator.iter_errors(record)
        ]
        raise RecordRejected(errors)
    return record


def unknown_fields(record: Any, dataset: str, remove: bool = False) -> list[str]:
    """The fields of `record` that its dataset's schema does not know, as JSON paths with `[*]`
    for any item of an array (`$.purchases.products[*].discount`), in the order found; with
    `remove`, they are also taken out of the record (in place).

    A field is unknown where the schema allows no other properties (`additionalProperties`); a
    known field with a value of the wrong type is not listed. Called for records that failed
    validation only: it walks the validator's every error.
    """
    kind = jsonschema_rs.ValidationErrorKind.AdditionalProperties
    errors = [e for e in schema_validator(dataset).iter_errors(record) if isinstance(e.kind, kind)]
    paths = []
    for error in errors:
        parent = record
        for part in error.instance_path:
            parent = parent[part]
        for key in error.kind.unexpected:
            paths.append(_field_path(error.instance_path, key))
            if remove:
                del parent[key]
    return paths


def _field_path(parents: list[str | int], key: str) -> str:
    path = "$" + "".join("[*]" if isinstance(part, int) else f".{part}" for part in parents)
    path += f".{key}"
    # the key is the source's: keep a runaway one from filling the drift record
    return path if len(path) <= MAX_FIELD_CHARS else f"{path[:MAX_FIELD_CHARS]}..."


def _hidden_problems(raw: bytes, record: Any) -> bool:
    """Whether decoding may have dropped a repeated key or let a NUL through: a cheap test, so
    that the normal path stays fast (about a microsecond a record).

    Unless a quote is written as the escape \\u0022, each `"` byte of the line delimits a
    string or is an escaped quote inside one, and orjson writes the record it decoded back the
    same way. A repeated key drops a key string (and its value) from the record, so the counts
    differ exactly when a key was repeated. A NUL can only come as the escape \\u0000.

    Raises:
        orjson.JSONEncodeError: the record nests too deeply to encode.
    """
    quotes = orjson.dumps(record).count(b'"')
    return quotes != raw.count(b'"') or _RARE_ESCAPES.search(raw) is not None


class _Object(dict):
    """A decoded JSON object that remembers the keys its text repeated."""

    repeated: tuple[str, ...] = ()


def _keep_repeats(pairs: list[tuple[str, Any]]) -> _Object:
    decoded = _Object(pairs)
    if len(decoded) != len(pairs):
        seen: set[str] = set()
        decoded.repeated = tuple(key for key, _ in pairs if key in seen or seen.add(key))
    return decoded


def _repeated_keys(raw: bytes) -> list[RecordError]:
    """Every repeated key, by the path of its object (the line is known to be valid JSON)."""
    errors = []
    pending: list[tuple[Any, list[str | int]]] = [
        (json.loads(raw, object_pairs_hook=_keep_repeats), [])
    ]
    while pending:
        value, path = pending.pop()
        if isinstance(value, _Object):
            errors.extend(
                RecordError(json_path(path), f"duplicate key {key!r} in one object")
                for key in dict.fromkeys(value.repeated)
            )
            pending.extend((child, [*path, key]) for key, child in value.items())
        elif isinstance(value, list):
            pending.extend((child, [*path, index]) for index, child in enumerate(value))
    return sorted(errors, key=lambda error: error.path)


def _nul_characters(value: Any, path: list[str | int]) -> list[RecordError]:
    message = "contains a NUL character (\\u0000), which the warehouse cannot store"
    if isinstance(value, str):
        return [RecordError(json_path(path), message)] if "\x00" in value else []
    if isinstance(value, dict):
        errors = [RecordError(json_path(path), f"key {message}") for key in value if "\x00" in key]
        for key, child in value.items():
            errors += _nul_characters(child, [*path, key])
        return errors
    if isinstance(value, list):
        return [
            e for index, child in enumerate(value) for e in _nul_characters(child, [*path, index])
        ]
    return []


def _shorten(message: str) -> str:
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return f"{message[:MAX_MESSAGE_CHARS]}... ({len(message) - MAX_MESSAGE_CHARS} characters cut)"
