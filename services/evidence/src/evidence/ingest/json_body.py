"""What every JSON submission must be before any format reads it: UTF-8 text that parses, no
deeper than `MAX_DEPTH`, with every string encodable (no lone surrogates from `\\ud800`
escapes) and every number finite. Anything else is a Rejection naming the place and the rule,
never an exception from deeper down (RecursionError, UnicodeEncodeError) that would take other
submissions with it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from evidence.ingest.observation import Rejection

MAX_DEPTH = 64
"""Objects and arrays nested deeper than this are refused (a statement with its context,
sub-statement and extensions stays well within it)."""


def loaded(load: Callable[[], Any]) -> Any:
    """`load()` (a `json.loads` call with whatever hooks the format wants), with the failures
    no format handles on its own turned into Rejections, and the result checked as sound."""
    try:
        value = load()
    except RecursionError:
        raise Rejection("body", f"nested deeper than {MAX_DEPTH} levels") from None
    except UnicodeError:
        raise Rejection("body", "must be JSON encoded as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise Rejection("body", f"not JSON ({exc.msg} at line {exc.lineno})") from None
    except ValueError as exc:  # an integer of thousands of digits, a hook's own refusal
        raise Rejection("body", f"not JSON ({_first_line(exc)})") from None
    check_sound(value)
    return value


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An `object_pairs_hook` refusing a key given twice: which value counts would otherwise
    depend on the reader."""
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise Rejection("body", f"the key {_shown(key)!r} appears twice in one object")
        seen.add(key)
    return dict(pairs)


def no_constant(name: str) -> Any:
    """A `parse_constant` refusing NaN, Infinity and -Infinity, which JSON does not have."""
    raise Rejection("body", f"{name} is not a JSON number")


def check_sound(value: Any) -> None:
    """Raise a Rejection at the first place `value` breaks the rules above (walked without
    recursion, so no depth of input can exhaust the stack)."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, str):
            _encodable(node, path or "body")
        elif isinstance(node, float) and not math.isfinite(node):
            raise Rejection(path or "body", "must be a finite number")
        elif isinstance(node, dict | list):
            if depth >= MAX_DEPTH:
                where = path if len(path) <= 120 else f"{path[:120]}…"
                raise Rejection(where or "body", f"nested deeper than {MAX_DEPTH} levels")
            if isinstance(node, dict):
                for key, child in node.items():
                    _encodable(key, f"{path}.<key>" if path else "<key>")
                    where = f"{path}.{_shown(key)}" if path else _shown(key)
                    stack.append((child, where, depth + 1))
            else:
                for index, child in enumerate(node):
                    stack.append((child, f"{path}[{index}]", depth + 1))


def _encodable(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Rejection(
            path, "holds a lone surrogate (\\ud800-\\udfff): not valid Unicode"
        ) from None


def _shown(key: str) -> str:
    """A key as it may appear in a field path (never itself unencodable)."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")[:100]


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
