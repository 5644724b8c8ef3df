"""The rule language's syntax tree: small frozen dataclasses that remember where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

from mips_rules.dsl.errors import Location


@dataclass(frozen=True)
class Node:
    loc: Location = field(compare=False)


@dataclass(frozen=True)
class Number(Node):
    value: Decimal


@dataclass(frozen=True)
class String(Node):
    value: str


@dataclass(frozen=True)
class Const(Node):
    """true, false or none."""

    value: bool | None


@dataclass(frozen=True)
class Name(Node):
    name: str


@dataclass(frozen=True)
class Field(Node):
    target: Node
    name: str


@dataclass(frozen=True)
class Index(Node):
    target: Node
    key: Node


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "-" or "not"
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str  # + - * / == != < <= > >= and or in not_in
    left: Node
    right: Node


@dataclass(frozen=True)
class If(Node):
    cond: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True)
class Lambda(Node):
    param: str
    body: Node


@dataclass(frozen=True)
class ListLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Let(Node):
    name: str
    value: Node
    body: Node


@dataclass(frozen=True)
class RecordLit(Node):
    fields: tuple[tuple[str, Node], ...]


@dataclass(frozen=True)
class Definition:
    """`name = expr` or `name(a, b) = expr`, with its annotations (`@source "…"`)."""

    name: str
    params: tuple[str, ...] | None  # None: a value; (): a function of no arguments
    body: Node
    loc: Location
    annotations: dict[str, str | None]
    text: str  # the definition's source text, for reports and diffs

    @property
    def source(self) -> str | None:
        return self.annotations.get("source")

    @property
    def is_function(self) -> bool:
        return self.params is not None


def static_data(node: Node, local: frozenset[str], data: Mapping[str, Any]) -> tuple[bool, Any]:
    """The value of a `data.a.b` chain, known when the year loads (not shadowed by a local name)."""
    if isinstance(node, Name) and node.name not in local and node.name in data:
        return True, data[node.name]
    if isinstance(node, Field):
        known, v = static_data(node.target, local, data)
        if known and isinstance(v, dict) and node.name in v:
            return True, v[node.name]
    return False, None


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-expressions of a node (used by the checker's walks)."""
    if isinstance(node, Field):
        return (node.target,)
    if isinstance(node, Index):
        return (node.target, node.key)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, If):
        return (node.cond, node.then, node.otherwise)
    if isinstance(node, Lambda):
        return (node.body,)
    if isinstance(node, ListLit):
        return node.items
    if isinstance(node, Let):
        return (node.value, node.body)
    if isinstance(node, RecordLit):
        return tuple(v for _, v in node.fields)
    return ()
