"""SQLAlchemy statements compiled once into the driver's SQL and argument order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Select,
    String,
    bindparam,
)
from sqlalchemy.engine import Dialect


@dataclass(frozen=True, slots=True)
class Compiled:
    """An SQLAlchemy statement compiled once into the driver's SQL and argument order."""

    sql: str
    names: tuple[str, ...]
    constants: Mapping[str, Any]  # values SQLAlchemy bound itself, such as LIMIT 1

    @classmethod
    def of(cls, statement: Select[Any], dialect: Dialect) -> Compiled:
        compiled = statement.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ())
        constants = {k: v for k, v in compiled.params.items() if v is not None}
        return cls(compiled.string, names, constants)

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        return [values[n] if n in values else self.constants[n] for n in self.names]


def param(name: str, type_: Any = String) -> Any:
    return bindparam(name, type_=type_)
