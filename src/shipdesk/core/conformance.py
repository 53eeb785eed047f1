"""Comparing an answer with a documented example: the conformance suites of the carriers'
and gateways' emulators use it (an emulator must answer with the documented fields, each
with the documented JSON type)."""

from __future__ import annotations

import re
from typing import Any

_MAP_KEY = re.compile(r"^[\d-]+$")  # phones and message ids: a map, compared item by item


def json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def mismatches(doc: Any, got: Any, where: str = "$") -> list[str]:
    """Where ``got`` lacks a documented field or has it with another JSON type (extra
    fields are allowed; lists are compared by their first item; a dict keyed by numbers
    or phones item by item, in order)."""
    if isinstance(doc, dict) and isinstance(got, dict):
        if doc and all(_MAP_KEY.match(k) for k in doc):
            if len(doc) != len(got):
                return [f"{where}: {len(got)} items, documented {len(doc)}"]
            return [m for i, (d, g) in enumerate(zip(doc.values(), got.values(), strict=True))
                    for m in mismatches(d, g, f"{where}[{i}]")]
        out = []
        for key, value in doc.items():
            if key not in got:
                out.append(f"{where}.{key}: missing")
            else:
                out.extend(mismatches(value, got[key], f"{where}.{key}"))
        return out
    if isinstance(doc, list) and isinstance(got, list):
        return mismatches(doc[0], got[0], f"{where}[0]") if doc and got else []
    if json_kind(doc) != json_kind(got):
        return [f"{where}: {json_kind(got)} {got!r}, documented {json_kind(doc)} {doc!r}"]
    return []
