"""Parse a landing line and check it against its dataset's JSON Schema in schemas/."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema_rs
import orjson

from etl.settings import SCHEMAS_DIR


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
        RecordRejected: the line is not JSON.
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise RecordRejected([RecordError("$", f"malformed JSON: {error}")]) from None


def validate(record: Any, dataset: str) -> dict[str, Any]:
    """Check a decoded record against the dataset's schema and return it.

    Raises:
        RecordRejected: the record breaks the schema (every violation listed).
    """
    validator = schema_validator(dataset)
    if not validator.is_valid(record):
        errors = [
            RecordError(json_path(error.instance_path), error.message)
            for error in validator.iter_errors(record)
        ]
        raise RecordRejected(errors)
    return record
