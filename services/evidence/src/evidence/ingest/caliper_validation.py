"""Checks one Caliper data item, an Event or an Entity "describe", against the vocabulary.

A check that fails raises a Rejection naming the property by its path in the envelope
(`data[3].generated.scoreGiven`) and the rule it breaks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evidence.ingest import caliper_vocabulary as vocab
from evidence.ingest.caliper_values import is_iri, scalar_rule, shown
from evidence.ingest.caliper_vocabulary import Prop
from evidence.ingest.observation import Rejection


@dataclass(frozen=True)
class Scope:
    """What an item's `@context` lets it name beyond the Caliper vocabulary: the terms its
    inline contexts define, or anything at all once it imports a further remote context."""

    version: str
    terms: frozenset[str] = frozenset()
    open: bool = False

    def defines(self, term: str) -> bool:
        return self.open or term in self.terms

    def joined(self, other: Scope) -> Scope:
        return Scope(self.version, self.terms | other.terms, self.open or other.open)


def validate_item(item: object, version: str, path: str) -> None:
    """Accept a top-level data item of a `version` envelope, or raise the first Rejection."""
    if not isinstance(item, dict):
        raise Rejection(path, "must be an Event or Entity object")
    if item.get("@context") is None:
        raise Rejection(f"{path}.@context", "is required on every Event and Entity sent")
    scope = context_scope(item["@context"], Scope(version), f"{path}.@context")
    type_name = _type_of(item, path)
    if type_name in vocab.EVENT_TYPES:
        _event(item, type_name, scope, path)
    elif type_name in vocab.ENTITY_TYPES:
        _entity_properties(item, type_name, scope, path)
    else:
        raise Rejection(f"{path}.type", f"unknown Caliper Event or Entity type {shown(type_name)}")


def context_scope(value: object, scope: Scope, path: str) -> Scope:
    """Check an `@context` and widen the scope by what it defines. It must bring in the Caliper
    context of the envelope's version, by IRI or by an inline context that maps terms into the
    Caliper vocabulary; further contexts may come with it in a list."""
    entries = value if isinstance(value, list) else [value]
    caliper, terms, is_open = False, set[str](), False
    for index, entry in enumerate(entries):
        where = f"{path}[{index}]" if isinstance(value, list) else path
        if isinstance(entry, str) and entry in vocab.CONTEXTS[scope.version]:
            caliper = True
        elif isinstance(entry, str) and any(entry in c for c in vocab.CONTEXTS.values()):
            raise Rejection(where, f"{entry} does not match the envelope's dataVersion")
        elif isinstance(entry, str) and isinstance(value, list) and is_iri(entry):
            is_open = True  # another vocabulary, which may define any term
        elif isinstance(entry, str):
            raise Rejection(where, f"unknown @context {shown(entry)}")
        elif isinstance(entry, dict):
            caliper = caliper or any(
                isinstance(iri, str) and iri.startswith(vocab.CALIPER_VOCABULARY)
                for iri in entry.values()
            )
            terms |= set(entry)
        else:
            raise Rejection(where, "must be a context IRI or an inline context object")
    if not caliper:
        raise Rejection(path, f"must include the Caliper context {scope.version}")
    return scope.joined(Scope(scope.version, frozenset(terms), is_open))


def _type_of(node: dict[str, Any], path: str) -> str:
    type_name = node.get("type")
    if type_name is None:
        raise Rejection(f"{path}.type", "must not be null" if "type" in node else "is required")
    if not isinstance(type_name, str):
        raise Rejection(f"{path}.type", "must be a Caliper type term")
    return type_name


def _event(event: dict[str, Any], type_name: str, scope: Scope, path: str) -> None:
    action = event.get("action")
    if action is None:
        raise Rejection(f"{path}.action", "is required")
    if not isinstance(action, str) or action not in vocab.ACTIONS:
        raise Rejection(f"{path}.action", f"unknown Caliper action {shown(action)}")
    allowed = vocab.EVENT_TYPES[type_name].actions
    if allowed is not None and action not in allowed:
        raise Rejection(
            f"{path}.action",
            f"{action} is not an action of {type_name} (one of {', '.join(sorted(allowed))})",
        )
    _properties(event, type_name, vocab.event_properties(type_name, action), scope, path)


def _entity(node: object, types: tuple[str, ...], scope: Scope, path: str) -> None:
    """A value where an entity of one of `types` is expected: an object or an IRI reference."""
    if isinstance(node, str):
        if not is_iri(node):
            raise Rejection(path, "must be an entity object or an IRI that references one")
        return
    if not isinstance(node, dict):
        raise Rejection(path, "must be an entity object or an IRI that references one")
    type_name = _type_of(node, path)
    if "@context" in node:
        scope = context_scope(node["@context"], scope, f"{path}.@context")
    expected = " or ".join(types)
    if type_name not in vocab.ENTITY_TYPES:
        if "Entity" in types and scope.defines(type_name):
            # A type from a further vocabulary the item imports: only its identity is ours.
            _value(vocab.required(vocab.IRI), node.get("id"), scope, f"{path}.id")
            return
        raise Rejection(path, f"must be {expected}; {shown(type_name)} is no Caliper entity type")
    if not any(t in vocab.ancestors(type_name) for t in types):
        raise Rejection(path, f"must be {expected}, not {type_name}")
    _entity_properties(node, type_name, scope, path)


def _entity_properties(node: dict[str, Any], type_name: str, scope: Scope, path: str) -> None:
    _properties(node, type_name, vocab.entity_properties(type_name), scope, path)


def _properties(
    node: dict[str, Any], type_name: str, props: dict[str, Prop], scope: Scope, path: str
) -> None:
    for name, prop in props.items():
        if prop.required and node.get(name) is None:
            rule = "must not be null" if name in node else f"is required on {type_name}"
            raise Rejection(f"{path}.{name}", rule)
    for name, value in node.items():
        if name in ("@context", "type"):
            continue
        if name not in props:
            raise Rejection(
                f"{path}.{name}",
                f"is not a property of {type_name} (custom data belongs in extensions)",
            )
        _value(props[name], value, scope, f"{path}.{name}")


def _value(prop: Prop, value: object, scope: Scope, path: str) -> None:
    if value is None:
        raise Rejection(path, "must not be null")
    if prop.many:
        if not isinstance(value, list):
            raise Rejection(path, "must be a list")
        single = Prop(prop.kind, types=prop.types, values=prop.values)
        for index, element in enumerate(value):
            _value(single, element, scope, f"{path}[{index}]")
        return
    if isinstance(value, list):
        raise Rejection(path, "must be a single value, not a list")
    if prop.kind == "entity":
        _entity(value, prop.types, scope, path)
        return
    rule = scalar_rule(prop, value)
    if rule is not None:
        raise Rejection(path, rule)
