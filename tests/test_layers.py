"""Every import in the package points down the layers, only the demo and the CLI reach the sandbox, and no
module imports another's private (``_underscored``) names.

domain -> config -> store -> resources -> servers -> assets/jobs/sensors -> definitions -> runs -> cli: a module may import
its own layer or any lower one, never a higher one. Imports inside functions count as much as those at the top:
they are the same dependency, only later. The sandbox stands beside the product: it may use the domain and the
configuration; the product may use the sandbox only from the demo and the CLI.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import jengu_pipeline

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("domain", ("domain",)),
    ("config", ("settings", "clock")),
    ("store", ("store", "batch_files")),
    ("resources", ("resources", "instance")),
    ("servers", ("unsubscribe", "observability")),
    ("orchestration", ("assets", "jobs", "sensors", "partitions")),
    ("definitions", ("definitions",)),
    ("runs", ("imports", "ticks")),
    ("cli", ("cli", "demo")),
)
"""Lowest first; each entry names top-level modules or packages of jengu_pipeline."""
SANDBOX = "sandbox"
SANDBOX_MAY_IMPORT = ("domain", "config")
SANDBOX_USERS = ("cli", "demo")
"""The only product modules that may import the sandbox (the `jengu sandbox` and `jengu demo` commands)."""


@dataclass(frozen=True)
class Import:
    module: str
    target: str
    line: int


def module_name(root: Path, path: Path, package: str) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((package, *parts))


def imports_of(root: Path, package: str) -> list[Import]:
    """Each import of a ``package`` module from another, resolved to the module it names, wherever it is written."""
    modules = {module_name(root, path, package): path for path in root.rglob("*.py")}
    found: list[Import] = []
    for module, path in sorted(modules.items()):
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
                ]
            else:
                continue
            found += [Import(module, target, node.lineno) for target in targets if target.split(".")[0] == package]
    return found


def private_imports(root: Path, package: str) -> list[str]:
    """Each ``from <package module> import _name`` (dunders apart), as `file:line: name`: a name shared between
    modules is public, or lives where it is used."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(root, path, package)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, ast.ImportFrom) or not (node.level or (node.module or "").split(".")[0] == package):
                continue
            found += [
                f"{module}:{node.lineno}: {alias.name}"
                for alias in node.names
                if alias.name.startswith("_") and not alias.name.startswith("__")
            ]
    return found


def layer_of(module: str) -> str:
    """The layer of a module (``sandbox`` apart); a module no layer names is an error, so new ones get placed."""
    top = module.split(".")[1] if "." in module else ""
    if top == SANDBOX:
        return SANDBOX
    for name, members in LAYERS:
        if top in members:
            return name
    raise LookupError(f"{module}: no layer in tests/test_layers.py names it; add it to LAYERS")


def violations(root: Path, package: str) -> list[str]:
    """Each import that points up the layers or into the sandbox from where it may not, as `file:line: why`."""
    rank = {name: index for index, (name, _) in enumerate(LAYERS)}
    problems: list[str] = []
    for item in imports_of(root, package):
        if item.target == package:
            continue
        source, target = layer_of(item.module), layer_of(item.target)
        where = f"{item.module}:{item.line}: imports {item.target}"
        if source == SANDBOX:
            if target not in (SANDBOX, *SANDBOX_MAY_IMPORT):
                problems.append(f"{where} (the sandbox may import only {', '.join(SANDBOX_MAY_IMPORT)})")
        elif target == SANDBOX:
            if item.module.split(".")[1] not in SANDBOX_USERS:
                problems.append(f"{where} (only {', '.join(SANDBOX_USERS)} may import the sandbox)")
        elif rank[target] > rank[source]:
            problems.append(f"{where} ({source} may not import the higher layer {target})")
    return problems


def test_every_import_in_the_package_points_down_the_layers() -> None:
    root = Path(jengu_pipeline.__file__).parent
    assert imports_of(root, "jengu_pipeline"), "the walk found no imports at all"
    assert violations(root, "jengu_pipeline") == []


def test_no_module_imports_a_private_name_of_another() -> None:
    root = Path(jengu_pipeline.__file__).parent
    assert private_imports(root, "jengu_pipeline") == []


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


def test_a_downward_tree_passes(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            "__init__.py": "",
            "domain/__init__.py": "",
            "domain/rules.py": "",
            "store/__init__.py": "from pkg.domain.rules import x\n",
            "store/rows.py": "from . import engine\nfrom ..domain import rules\n",
            "store/engine.py": "",
            "cli/__init__.py": "import pkg.sandbox.world\nfrom pkg.store import rows\n",
            "sandbox/world.py": "from pkg.domain import rules\n",
        },
    )
    assert len(imports_of(root, "pkg")) == 6
    assert violations(root, "pkg") == []


def test_a_reversed_import_fails_even_inside_a_function(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            "__init__.py": "",
            "domain/__init__.py": "",
            "domain/rules.py": "def late():\n    from pkg.store.rows import y\n",
            "store/__init__.py": "",
            "store/rows.py": "from ..resources import calls\n",
            "resources/__init__.py": "",
            "resources/calls.py": "",
        },
    )
    assert violations(root, "pkg") == [
        "pkg.domain.rules:2: imports pkg.store.rows (domain may not import the higher layer store)",
        "pkg.store.rows:1: imports pkg.resources.calls (store may not import the higher layer resources)",
    ]


def test_the_sandbox_is_reached_only_from_the_demo_and_the_cli(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            "__init__.py": "",
            "assets/send.py": "from pkg.sandbox import world\n",
            "sandbox/__init__.py": "",
            "sandbox/world.py": "from pkg.store import rows\n",
            "store/rows.py": "",
        },
    )
    assert violations(root, "pkg") == [
        "pkg.assets.send:1: imports pkg.sandbox.world (only cli, demo may import the sandbox)",
        "pkg.sandbox.world:1: imports pkg.store.rows (the sandbox may import only domain, config)",
    ]


def test_a_module_without_a_layer_is_named(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path, {"__init__.py": "", "stray.py": "from pkg.domain import rules\n", "domain/rules.py": ""}
    )
    with pytest.raises(LookupError, match=r"pkg\.stray: no layer"):
        violations(root, "pkg")


def test_a_private_name_imported_from_another_module_is_named(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            "__init__.py": "",
            "domain/names.py": "_RULES = 1\nPUBLIC = 2\n__all__ = ['PUBLIC']\n",
            "domain/gate.py": "from pkg.domain.names import _RULES, PUBLIC, __all__\nfrom .names import _RULES as rules\n",
            "store/rows.py": "from os import _exit\n",
        },
    )
    assert private_imports(root, "pkg") == ["pkg.domain.gate:1: _RULES", "pkg.domain.gate:2: _RULES"]
