"""Which inputs each definition reads, directly or through the definitions it uses.

A definition that reads only some inputs has the same value for every evaluation whose inputs
agree on those: a population whose records share an input (a table of category scores has no
submission) can compute such definitions once (`engine/scoring/plain_inputs.py`).
"""

from __future__ import annotations

from typing import Any, Mapping

from mips_rules.dsl import ast


def inputs_read(definitions: Mapping[str, ast.Definition], data: Mapping[str, Any],
                inputs: frozenset[str]) -> dict[str, frozenset[str]]:
    """Definition → the inputs it reads (a local name, a data namespace or a definition shadows an
    input of the same name as the compiler resolves them: locals, then data, then inputs)."""
    direct: dict[str, tuple[set[str], set[str]]] = {}
    for name, d in definitions.items():
        reads: set[str] = set()
        uses: set[str] = set()
        stack: list[tuple[ast.Node, frozenset[str]]] = [(d.body, frozenset(d.params or ()))]
        while stack:
            node, scope = stack.pop()
            if isinstance(node, ast.Name) and node.name not in scope and node.name not in data:
                if node.name in inputs:
                    reads.add(node.name)
                elif node.name in definitions:
                    uses.add(node.name)
            elif isinstance(node, ast.Call) and node.func in definitions:
                uses.add(node.func)
            if isinstance(node, ast.Let):
                stack.append((node.value, scope))
                stack.append((node.body, scope | {node.name}))
            elif isinstance(node, ast.Lambda):
                stack.append((node.body, scope | {node.param}))
            else:
                stack.extend((child, scope) for child in ast.children(node))
        direct[name] = (reads, uses)
    # What each reads through what it uses: a fixed point (definitions form no cycle; were there
    # one, the loop still ends — the sets only grow, and are bounded by the inputs).
    read = {name: set(r) for name, (r, _) in direct.items()}
    changed = True
    while changed:
        changed = False
        for name, (_, uses) in direct.items():
            for used in uses:
                extra = read[used] - read[name]
                if extra:
                    read[name] |= extra
                    changed = True
    return {name: frozenset(r) for name, r in read.items()}
