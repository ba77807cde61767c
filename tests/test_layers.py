"""The layers of the package, as a table: what each part of ``heliograph`` may import.

Every import statement counts, at module top or inside a function, so a lazy
import cannot hide an upward reach. ``docs/architecture.md`` shows the same
table in words.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import heliograph

PACKAGE = Path(heliograph.__file__).parent

_LIB = frozenset({"lib.wire", "lib.signals", "lib.mailer", "lib.signal_docs"})
_BELOW_EVENTS = frozenset({"config", "signals", "lib.wire", "lib.signals", "plugins", "model"})
_BELOW_WEB = _BELOW_EVENTS | _LIB | {"events", "metrics", "logic"}

LAYERS: dict[str, frozenset[str]] = {
    # part: the parts it may import besides itself, lowest part first
    "heliograph": frozenset(),  # the version, which every part may read
    "signals": frozenset(),  # and the standard library only
    "config": frozenset(),
    "lib": frozenset(),
    "lib.mailer": frozenset(),
    "lib.wire": frozenset({"signals"}),
    "lib.signals": frozenset({"signals", "lib.wire"}),
    "plugins": frozenset({"config", "signals", "lib.signals"}),
    "lib.signal_docs": frozenset({"config", "signals", "lib.signals", "lib.wire", "plugins"}),
    "testing": frozenset({"config", "signals", "lib.signals", "plugins"}),
    "model": frozenset({"config", "signals", "lib.signals", "plugins"}),
    "events": _BELOW_EVENTS,
    "metrics": _BELOW_EVENTS | _LIB | {"events"},
    "logic": _BELOW_EVENTS | _LIB | {"events", "metrics"},
    "web": _BELOW_WEB,
    "plugins.toolkit": _BELOW_WEB | {"web"},
    "cli": _BELOW_WEB | {"web"},
    "ext": frozenset({"plugins", "plugins.toolkit"}),
}
"""``plugins.toolkit`` is the one part of a lower layer that reaches up: the
extensions' facade, which ``heliograph.plugins`` does not import at its top."""

STANDARD_LIBRARY_ONLY = ("signals",)

EXCEPTIONS: dict[str, frozenset[str]] = {
    # file: the modules it imports against the table, and why
    "plugins/__init__.py": frozenset({"heliograph.plugins.toolkit"}),  # for mypy only
}

EXTENSION_API = {"heliograph.plugins", "heliograph.plugins.toolkit"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    """The row of :data:`LAYERS` that ``module`` (a ``heliograph`` module) belongs to."""
    parts = module.split(".")
    if len(parts) == 1:
        return "heliograph"
    top = parts[1]
    if top in {"cli", "cli_events", "wsgi"}:
        return "cli"
    if top == "lib" and len(parts) > 2:
        return f"lib.{parts[2]}"
    if parts[1:3] == ["plugins", "toolkit"]:
        return "plugins.toolkit"
    return top


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(path: Path) -> list[str]:
    """Every module ``path`` imports, anywhere in the file."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    return imports_in(path.read_text(encoding="utf-8"), package)


def imports_in(source: str, package: list[str]) -> list[str]:
    """Every module ``source`` (of a module in ``package``) imports, at its top
    or inside a function; ``from a import b`` names ``a.b`` when that is a
    module, else ``a``."""
    here = package
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here[: len(here) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                names.append(full if _is_module(full) else base)
    return names


def _own(name: str) -> bool:
    return name == "heliograph" or name.startswith("heliograph.")


FILES = sorted(PACKAGE.rglob("*.py"))
IDS = [str(path.relative_to(PACKAGE)) for path in FILES]


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_every_file_belongs_to_a_layer_of_the_table(path: Path) -> None:
    assert part_of(module_name(path)) in LAYERS, f"{path} is in no row of LAYERS"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_a_file_imports_only_the_layers_its_own_may_know(path: Path) -> None:
    part = part_of(module_name(path))
    allowed = LAYERS[part] | {part, "heliograph"}
    excepted = EXCEPTIONS.get(str(path.relative_to(PACKAGE)), frozenset())
    wrong = sorted(
        {
            name
            for name in imported_modules(path)
            if _own(name) and part_of(name) not in allowed and name not in excepted
        }
    )
    assert wrong == [], f"{path} ({part}) imports {wrong}; {part} may know {sorted(allowed)}"


@pytest.mark.parametrize(
    "path",
    [p for p in FILES if part_of(module_name(p)) in STANDARD_LIBRARY_ONLY],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_the_lowest_layers_use_the_standard_library_only(path: Path) -> None:
    wrong = sorted(
        {
            name
            for name in imported_modules(path)
            if not _own(name) and name.split(".")[0] not in sys.stdlib_module_names
        }
    )
    assert wrong == [], f"{path} imports {wrong}, outside the standard library"


EXT = PACKAGE / "ext"
EXT_FILES = sorted(path for path in EXT.rglob("*.py") if path.parent != EXT)


@pytest.mark.parametrize("path", EXT_FILES, ids=[str(p.relative_to(EXT)) for p in EXT_FILES])
def test_an_extension_imports_only_the_plugin_api_and_itself(path: Path) -> None:
    own = f"heliograph.ext.{path.relative_to(EXT).parts[0]}"
    wrong = [
        name
        for name in imported_modules(path)
        if _own(name)
        and name not in EXTENSION_API
        and not (name == own or name.startswith(own + "."))
    ]
    assert wrong == [], (
        f"{path} imports {wrong}; extensions may import only {sorted(EXTENSION_API)}"
    )


def test_a_function_level_import_counts_as_much_as_one_at_the_top() -> None:
    source = "import os\n\ndef f():\n    from heliograph import logic\n    from . import core\n"
    found = imports_in(source, ["heliograph", "plugins"])
    assert found == ["os", "heliograph.logic", "heliograph.plugins.core"]
    assert part_of(found[1]) not in LAYERS["plugins"]


def test_the_exceptions_are_still_needed() -> None:
    for name, modules in EXCEPTIONS.items():
        assert modules <= set(imported_modules(PACKAGE / name)), f"{name} no longer needs {modules}"


PLUGINS_ALONE = """
import sys
import heliograph.plugins as p
portal = ("flask", "heliograph.logic", "heliograph.plugins.toolkit")
print(sorted(m for m in portal if m in sys.modules))
print(p.toolkit is sys.modules["heliograph.plugins.toolkit"], p.toolkit.get_action is not None)
"""


def test_the_plugin_system_loads_without_the_portal_and_offers_the_toolkit_on_first_use() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PLUGINS_ALONE], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "True True"]
