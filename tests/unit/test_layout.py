"""The layering and size rules of STYLE.md, checked on the source itself."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
MODULES = sorted((ROOT / "studio").rglob("*.py"))
# The one allowed order, lowest first: a package imports only itself and those before it.
LAYERS = ("core", "data", "templates", "model", "encode", "train", "runs", "serve", "cli", "ui")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every studio module or package a file imports, function-local imports included (`from studio import x`
    counts as studio.x)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module == "studio":
                names |= {f"studio.{a.name}" for a in node.names}
    return names


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "studio" and parts[1] in LAYERS else None


def test_every_module_lives_in_a_layer() -> None:
    loose = [p.name for p in (ROOT / "studio").glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert not loose, f"modules outside the layer packages: {loose}"


def test_imports_only_point_down_the_layers() -> None:
    upward = []
    for path in MODULES:
        own = _layer(_module_name(path))
        if own is None:
            continue
        for name in _imports(path):
            target = _layer(name)
            if target is not None and LAYERS.index(target) > LAYERS.index(own):
                upward.append(f"{_module_name(path)} -> {name}")
    assert not upward, "imports pointing up the layers:\n" + "\n".join(sorted(upward))


def test_no_import_cycles_between_modules() -> None:
    modules = {_module_name(p): p for p in MODULES}
    graph = {name: {n for n in _imports(path) if n in modules and n != name} for name, path in modules.items()}
    state: dict[str, int] = {}
    cycles: list[str] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*trail[trail.index(nxt):], nxt]) if nxt in trail else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_modules_are_small_and_open_with_a_docstring() -> None:
    for path in MODULES:
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 400, f"{path} is over 400 lines"
        assert ast.get_docstring(ast.parse(text)), f"{path} has no module docstring"


def test_nothing_outside_ui_imports_ui_or_gradio() -> None:
    for path in MODULES:
        if "ui" in path.relative_to(ROOT / "studio").parts:
            continue
        bad = {n for n in _imports(path) if n.startswith("studio.ui") or n.split(".")[0] == "gradio"}
        assert not bad, f"{path} imports {bad}"


def test_ui_holds_no_file_or_process_work() -> None:
    pattern = re.compile(r"\bopen\(|subprocess|json\.(load|dump)\(|yaml\.|\.read_text\(|\.write_text\(|\.exists\(\)|"
                         r"\.iterdir\(|\.glob\(|os\.(listdir|walk|remove|stat)")
    for path in (ROOT / "studio" / "ui").rglob("*.py"):
        hits = [ln for ln in path.read_text(encoding="utf-8").splitlines() if pattern.search(ln)]
        assert not hits, f"{path}: {hits}"


def test_no_shell_true_anywhere() -> None:
    for path in [*MODULES, ROOT / "app.py"]:
        assert "shell=True" not in path.read_text(encoding="utf-8"), path
