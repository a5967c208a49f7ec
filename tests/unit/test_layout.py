"""The layering and size rules of STYLE.md, checked on the source itself."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
MODULES = sorted((ROOT / "studio").rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


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


def test_train_worker_never_imports_runs_or_ui() -> None:
    assert not {n for n in _imports(ROOT / "studio" / "train.py") if n in ("studio.runs", "studio.cli")}


def test_ui_holds_no_file_or_process_work() -> None:
    pattern = re.compile(r"\bopen\(|subprocess|json\.load|yaml\.")
    for path in (ROOT / "studio" / "ui").rglob("*.py"):
        hits = [ln for ln in path.read_text(encoding="utf-8").splitlines() if pattern.search(ln)]
        assert not hits, f"{path}: {hits}"


def test_no_shell_true_anywhere() -> None:
    for path in [*MODULES, ROOT / "app.py"]:
        assert "shell=True" not in path.read_text(encoding="utf-8"), path
