"""Imports run one way. The command line and the web app sit on top; below them the worker and
its stages (ingest, topics, digests, ledger, delivery, deadlines, bulletins); subscriptions, the
members' domain, stands on the ground floor alone. Read from the source with ast, so an import
inside a function counts as much as one at the top of a module."""

import ast
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GROUND_FLOOR = {
    f"alerter.{name}"
    for name in ("config", "db", "models", "branding", "render", "logs", "progress")
}
ON_TOP = ("alerter.cli", "alerter.web", "alerter.demo")  # the entry points and the web app


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of alerter and subscriptions by its dotted name (migrations aside: Alembic
    loads them by path)."""
    found = {}
    for package in ("alerter", "subscriptions"):
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.relative_to(root).parts:
                continue
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(name: str, path: Path, known: Iterable[str]) -> set[str]:
    """The alerter and subscriptions modules this module imports, anywhere in it."""
    modules = set(known)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from ..y import z
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules}
    return {m for m in found if m.split(".")[0] in ("alerter", "subscriptions") and m != "alerter"}


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    files = module_files(root)
    return {name: imports_of(name, path, files) for name, path in files.items()}


def folder_of(module: str, root: Path = ROOT) -> str:
    """The folder a module lives in (alerter.ingest, subscriptions), or the module itself for
    one at alerter's top level."""
    parts = module.split(".")
    if parts[0] == "subscriptions":
        return "subscriptions"
    if len(parts) == 1:
        return module
    if len(parts) > 2 or (root / "alerter" / parts[1]).is_dir():
        return ".".join(parts[:2])
    return module


def within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def wrong_imports(
    graph: Mapping[str, set[str]], importers: tuple[str, ...], allowed: Callable[[str], bool]
) -> list[str]:
    """Each "a imports b" where a is within `importers` and b is not `allowed`."""
    return sorted(
        f"{module} imports {imported}"
        for module, imported_modules in graph.items()
        if within(module, *importers)
        for imported in imported_modules
        if not allowed(imported)
    )


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The groups of nodes that reach each other (strongly connected components of more than
    one node, by Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = [stack.pop()]
            while component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def folder_graph(graph: Mapping[str, set[str]], root: Path = ROOT) -> dict[str, set[str]]:
    folders: dict[str, set[str]] = {}
    for module, imported_modules in graph.items():
        edges = folders.setdefault(folder_of(module, root), set())
        edges |= {folder_of(m, root) for m in imported_modules} - {folder_of(module, root)}
    return folders


GRAPH = import_graph()


def test_the_worker_and_its_stages_import_neither_the_web_app_nor_the_command_line() -> None:
    folders = {folder_of(m) for m in GRAPH} - {"alerter"}  # alerter/__init__.py: the version
    core = tuple(sorted(folders - set(ON_TOP)))

    assert wrong_imports(GRAPH, core, lambda m: not within(m, "alerter.web", "alerter.cli")) == []


def test_the_web_app_does_not_import_the_command_line() -> None:
    assert wrong_imports(GRAPH, ("alerter.web",), lambda m: not within(m, "alerter.cli")) == []


def test_subscriptions_imports_only_the_ground_floor() -> None:
    def allowed(module: str) -> bool:
        return within(module, "subscriptions") or module in GROUND_FLOOR

    assert wrong_imports(GRAPH, ("subscriptions",), allowed) == []


def test_no_folders_import_each_other_round_in_a_cycle() -> None:
    assert cycles(folder_graph(GRAPH)) == []


def test_the_check_sees_imports_in_functions_and_relative_ones(tmp_path: Path) -> None:
    (tmp_path / "alerter" / "ingest").mkdir(parents=True)
    (tmp_path / "subscriptions").mkdir()
    (tmp_path / "alerter" / "__init__.py").write_text("")
    (tmp_path / "alerter" / "ingest" / "__init__.py").write_text("")
    (tmp_path / "alerter" / "ingest" / "poll.py").write_text(
        "from . import store\n\ndef later():\n    import subscriptions.members\n"
    )
    (tmp_path / "alerter" / "ingest" / "store.py").write_text("")
    (tmp_path / "subscriptions" / "__init__.py").write_text("")
    (tmp_path / "subscriptions" / "members.py").write_text("from alerter.ingest import poll\n")

    graph = import_graph(tmp_path)

    assert graph["alerter.ingest.poll"] == {
        "alerter.ingest",
        "alerter.ingest.store",
        "subscriptions.members",
    }
    assert cycles(folder_graph(graph, tmp_path)) == [["alerter.ingest", "subscriptions"]]


def test_a_cycle_through_a_third_folder_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

    assert cycles(graph) == [["a", "b", "c"]]
