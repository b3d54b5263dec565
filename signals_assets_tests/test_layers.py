"""The package's layers, read from its source (ast: nothing is imported), and the UI's links to each asset's source.

The core, which knows nothing of Dagster, is layered, each layer importing only itself and layers below it:

    weeks < redaction < news < sentiment < delta < signal < numerai < evaluation < alerts

`weeks` is the calendar every layer shares; `redaction` the secret-hiding mechanism of the API clients; `news`
fetches the week's articles and `sentiment` scores their headlines (`delta` keeps those scores and the tables in the
Delta warehouse); `signal` turns the scores into the week's signal, `numerai` checks and uploads it with Numerai's
files; `evaluation` scores signals as Numerai does; `alerts` tells about a round. The Dagster side (defs/, the code
location in definitions.py and preloaded.py, the demo, the Delta IO manager) builds on the core and may import any
of it; nothing in the core imports the Dagster side.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from functools import cache
from pathlib import Path

import pytest

PACKAGE = "signals_assets"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE
DEFS = ROOT / "defs"
CORE_LAYERS = ("weeks", "redaction", "news", "sentiment", "delta", "signal", "numerai", "evaluation", "alerts")
DAGSTER_SIDE = ("defs", "definitions", "preloaded", "demo", "delta_io_manager")
GROUPS = ("ingestion", "sentiment", "signal", "numerai", "evaluation")
TOOL_DIRECTIVE = re.compile(r"^(noqa|type:|pragma|fmt:|ruff:|isort:)")


@cache
def modules() -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its __init__.py)."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


@cache
def parsed(module: str) -> ast.Module:
    return ast.parse(modules()[module].read_text(encoding="utf-8"))


@cache
def imports(module: str) -> tuple[tuple[str, ast.stmt], ...]:
    """Every name an import statement of `module` names, anywhere in it (TYPE_CHECKING and function bodies
    included), with its statement: `import a.b` names a.b; `from a import b` names a and a.b."""
    is_package = modules()[module].name == "__init__.py"
    found = []
    for node in ast.walk(parsed(module)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            found.append((base, node))
            found += [(f"{base}.{alias.name}", node) for alias in node.names]
    return tuple(found)


def internal_imports(module: str) -> set[str]:
    """The modules of the package that `module` imports (a name that is no module resolves to its package)."""
    found = set()
    for name, _ in imports(module):
        while name.startswith(PACKAGE) and name not in modules():
            name = name.rpartition(".")[0]
        if name in modules() and name != module:
            found.add(name)
    return found


def part_of(module: str) -> str | None:
    """The top-level package or module of the package that `module` belongs to (None for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def is_dagster(name: str) -> bool:
    top = name.split(".")[0]
    return top == "dagster" or top.startswith("dagster_")


def is_private_dagster(name: str) -> bool:
    return is_dagster(name) and any(part.startswith("_") for part in name.split(".")[1:])


def core_modules() -> list[str]:
    return [module for module in modules() if part_of(module) in CORE_LAYERS]


def test_every_part_of_the_package_is_core_or_dagster_side():
    parts = {part_of(module) for module in modules()} - {None}
    assert parts - set(CORE_LAYERS) - set(DAGSTER_SIDE) == set(), "name the new part's layer in this test"
    assert set(CORE_LAYERS) & set(DAGSTER_SIDE) == set()


def test_no_import_cycle_between_the_package_modules():
    graph = {module: internal_imports(module) for module in modules()}
    state: dict[str, str] = {}  # "open" while on the path, "done" after
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[module] = "done"
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_core_imports_no_dagster():
    found = [
        f"{module}:{node.lineno} imports {name}"
        for module in core_modules()
        for name, node in imports(module)
        if is_dagster(name)
    ]
    assert found == []


def test_the_core_imports_only_its_own_layer_and_those_below():
    rank = {layer: index for index, layer in enumerate(CORE_LAYERS)}
    found = []
    for module in core_modules():
        layer = part_of(module)
        for target in sorted(internal_imports(module)):
            target_layer = part_of(target)
            if target_layer is None:
                continue  # the package's own __init__: nothing in it
            if target_layer not in rank or rank[target_layer] > rank[layer]:
                found.append(f"{module} ({layer}) imports {target} ({target_layer})")
    assert found == [], "layers: " + " < ".join(CORE_LAYERS)


def comment_lines(module: str) -> set[int]:
    """The lines of `module` with a comment in words (a tool's directive alone, `# noqa: ...`, says no why)."""
    source = modules()[module].read_text(encoding="utf-8")
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {
        token.start[0]
        for token in tokens
        if token.type == tokenize.COMMENT and not TOOL_DIRECTIVE.match(token.string.lstrip("#").strip())
    }


@pytest.mark.parametrize("module", sorted(modules()))
def test_a_private_dagster_import_says_why_it_is_needed(module):
    """Each import from dagster's private modules (no public name for it) has a comment on its lines or the line
    above, saying why."""
    comments = comment_lines(module)
    private = {node.lineno: (name, node) for name, node in reversed(imports(module)) if is_private_dagster(name)}
    found = [
        f"{module}:{line} imports {name} without a comment saying why"
        for line, (name, node) in sorted(private.items())
        if not comments & set(range(node.lineno - 1, node.end_lineno + 1))
    ]
    assert found == []


def test_the_layer_test_sees_the_cases_it_is_for():
    """The test's own reading of imports: `from a.b import c` where c is a module names that module, and which
    dagster imports are private."""
    assert "signals_assets.signal.decay" in internal_imports("signals_assets.signal.smoothing")
    assert "signals_assets.redaction" in internal_imports("signals_assets.news.redaction")  # from signals_assets import
    assert is_private_dagster("dagster._core.errors") and is_private_dagster("dagster_duckdb._private")
    assert not is_private_dagster("dagster_deltalake_pandas") and not is_private_dagster("dagster.components")


# The UI's "Source code" link ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def asset_specs():
    from signals_assets.definitions import build_definitions

    return build_definitions().resolve_all_asset_specs()


def test_every_asset_links_to_the_python_that_defines_it_in_its_group_folder(asset_specs):
    import dagster as dg

    assert asset_specs
    for spec in asset_specs:
        name = spec.key.to_user_string()
        references = spec.metadata.get("dagster/code_references")
        assert isinstance(references, dg.CodeReferencesMetadataValue), f"{name} has no code reference"
        (reference,) = references.code_references
        assert isinstance(reference, dg.LocalFileCodeReference), name
        path = Path(reference.file_path).resolve()
        assert path.suffix == ".py" and path.is_file(), f"{name} links to {path}, not the Python that defines it"
        folder = path.relative_to(DEFS).parts[0]
        assert spec.group_name == folder and folder in GROUPS, f"{name}: group {spec.group_name}, defined in {folder}"
        first_line = path.read_text(encoding="utf-8").splitlines()[reference.line_number - 1]
        assert first_line.lstrip().startswith(("@", "def ")), f"{name} links to {path}:{reference.line_number}"
    assert {spec.group_name for spec in asset_specs} == set(GROUPS)
    assert not list(DEFS.rglob("defs.yaml")), "a defs.yaml would point the asset's source link at the YAML"
