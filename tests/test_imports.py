"""The import graph of `lpn` (and `lpn.widgets`, the package of widgets/): no cycle among its
modules, function-level imports included, and no module of lpn/ imports the package root `lpn`
(whose __init__ loads nearly the whole library). Read from the source with `ast`, nothing imported."""

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"lpn": ROOT / "lpn", "lpn.widgets": ROOT / "widgets"}


def module_files() -> dict[str, Path]:
    """{dotted module name: file} of every .py under lpn/ and widgets/."""
    found = {}
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of `known` that module `name` imports anywhere in its file: `import X` is X,
    `from X import Y` is X.Y where that is a module, else X."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module
            names = [f"{origin}.{alias.name}" for alias in node.names]
            # `from P import m` of a submodule m imports P.m; any other name imports P itself
            targets = names + ([origin] if any(n not in known for n in names) else [])
        else:
            continue
        out.update(t for t in targets if t in known and t != name)  # `from lpn import x` in lpn/__init__: x
    return out


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imported(name, path, set(files)) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_graph_is_read_from_every_module_with_function_level_imports():
    graph = import_graph()
    assert "lpn.evaluate" in graph and "lpn.cli.train" in graph and "lpn.widgets.task_model" in graph
    assert "lpn.config" in graph["lpn.cli.train"]  # a function-level import
    assert "lpn.widgets._base" in graph["lpn.widgets.task_view"]  # a relative import


def test_find_cycle_names_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_module_imports_the_package_root():
    graph = import_graph()
    offenders = sorted(name for name, targets in graph.items() if "lpn" in targets and name != "lpn")
    assert not offenders, f"these modules import the package root lpn (import from its module instead): {offenders}"


def test_the_version_is_pyprojects():
    import lpn
    from lpn.version import __version__

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert lpn.__version__ == __version__ == pyproject["project"]["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", __version__)
