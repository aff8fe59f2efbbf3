"""The package's shape: imports run one way, the runtime never imports the stand-in, the wheel is clean."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "omeroprofiles"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports (also inside functions), except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            if node.module:  # `from . import x` imports the submodule x (its package is implied)
                found.append(base)
            found.extend(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state, stack = [], {}, []

    def walk(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            walk(node)
    return found


def test_no_import_cycle_inside_the_package():
    graph = _graph()
    assert "omeroprofiles.login" in graph["omeroprofiles.su"]  # the graph sees real imports
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c", "a"]]


def test_the_connect_layer_imports_run_one_way():
    graph = _graph()
    low = {"omeroprofiles.login"}
    for module in ("omeroprofiles.su", "omeroprofiles.gateway"):
        assert low <= graph[module], module
    for module in low:
        assert not graph[module] & {"omeroprofiles.su", "omeroprofiles.gateway", "omeroprofiles.connection"}


def test_the_runtime_package_never_imports_the_stand_in():
    offenders = {_module_name(p): m for p in PACKAGE.rglob("*.py") for m in _imports(p)
                 if m.split(".")[0] in ("omero_standin",) or m.startswith("omeroprofiles.testing")}
    assert offenders == {}



def _private_imports(path: Path) -> list[str]:
    """``from .x import _name``: another module's private name (a sign it belongs in that module's API)."""
    return [f"{node.module}.{alias.name}" for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.ImportFrom) and node.level
            for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")]


def test_no_module_imports_another_modules_private_name():
    assert {_module_name(p): found for p in PACKAGE.rglob("*.py") if (found := _private_imports(p))} == {}


def test_shared_constants_are_defined_once():
    defined: dict[str, list[str]] = {}
    for path in [*PACKAGE.rglob("*.py"), *(ROOT / "cliplugin").rglob("*.py")]:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            defined.update({t.id: [*defined.get(t.id, []), _module_name(path)]
                            for t in targets if isinstance(t, ast.Name) and t.id in ("PROG", "DEFAULT_PORT")})
    assert defined == {"PROG": ["omeroprofiles.constants"], "DEFAULT_PORT": ["omeroprofiles.constants"]}


def test_get_conn_and_connect_are_typed_as_the_gateway_they_return():
    returns = {node.name: ast.unparse(node.returns) for node in ast.parse((PACKAGE / "api.py").read_text()).body
               if isinstance(node, ast.FunctionDef) and node.returns is not None}
    assert returns["get_conn"] == "ProfileGateway" and returns["connect"] == "Iterator[ProfileGateway]"
    opened = [node for node in ast.parse((PACKAGE / "connection.py").read_text()).body
              if isinstance(node, ast.FunctionDef) and node.name == "open_connection"]
    assert ast.unparse(opened[0].returns) == "ProfileGateway"

def test_the_wheel_holds_no_server_key_or_password(tmp_path):
    # from a copy of the tracked files: a build/ left in the checkout can carry stale modules into a wheel
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files"], capture_output=True, text=True, check=True)
    for name in tracked.stdout.splitlines():
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(source)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("omero_profiles-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "omeroprofiles/cli.py" in names and "omeroprofiles/profiles.example.toml" in names
    assert not [n for n in names if n.endswith((".pem", ".key", "users.toml")) or "standin" in n
                or "/testing/" in n or "demo" in n], names
    for name in names:
        if name.endswith((".py", ".toml")):
            text = zipfile.ZipFile(wheel).read(name).decode("utf-8", "replace")
            assert "PRIVATE KEY" not in text, name
            assert "alice-pw" not in text and "root-pw" not in text, name


def test_without_distributed_the_dask_module_names_the_extra():
    """``omeroprofiles.dask`` is the one module that needs an optional extra: its error says which."""
    code = ("import sys; sys.modules['distributed'] = None\n"
            "try:\n    import omeroprofiles.dask\nexcept ImportError as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "pip install 'omero-profiles[dask]'" in done.stdout, done.stdout + done.stderr
