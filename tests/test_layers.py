"""The package's layers, checked on every import statement (function-level ones included): inference
(speechproc.decode) never imports training (speechproc.tasks, speechproc.train), training never imports
inference, and the module-level import graph has no cycle."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set, Tuple

PKG = Path(__file__).resolve().parent.parent / "speechproc"


def _modules() -> Dict[str, Path]:
    out = {}
    for f in PKG.rglob("*.py"):
        parts = f.relative_to(PKG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = f
    return out


def _imports(path: Path, module_level_only: bool) -> List[Tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
            found += [(f"{node.module}.{a.name}", node.lineno) for a in node.names]
    return [(name, line) for name, line in found if name.startswith("speechproc")]


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_inference_and_training_do_not_import_each_other() -> None:
    rules = [("speechproc.decode", ("speechproc.tasks", "speechproc.train")),
             ("speechproc.tasks", ("speechproc.decode",))]
    bad = []
    for module, path in _modules().items():
        for layer, forbidden in rules:
            if not _under(module, layer):
                continue
            for name, line in _imports(path, module_level_only=False):
                if any(_under(name, f) for f in forbidden):
                    bad.append(f"{path.relative_to(PKG.parent)}:{line} imports {name}")
    assert not bad, "\n".join(bad)


def test_module_level_import_graph_has_no_cycle() -> None:
    modules = _modules()
    graph: Dict[str, Set[str]] = {m: {n for n, _ in _imports(p, module_level_only=True) if n in modules and n != m}
                                  for m, p in modules.items()}
    state: Dict[str, int] = {}
    cycles = []

    def visit(m: str, stack: List[str]) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append(" -> ".join(stack[stack.index(n):] + [n]))
            elif n not in state:
                visit(n, stack)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
    assert not cycles, "\n".join(cycles)
    assert len(graph) > 50  # the walk saw the package


def test_the_check_sees_function_level_imports(tmp_path: Path) -> None:
    src = "import os\n\ndef f():\n    from speechproc.tasks.asr import ASRBrain\n    return ASRBrain\n"
    (tmp_path / "m.py").write_text(src)
    assert _imports(tmp_path / "m.py", module_level_only=False) == [("speechproc.tasks.asr", 4),
                                                                      ("speechproc.tasks.asr.ASRBrain", 4)]
    assert _imports(tmp_path / "m.py", module_level_only=True) == []
