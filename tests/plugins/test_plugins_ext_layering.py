"""Bundled extensions use only the public plugin API, as a third party's would."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import heliograph.ext

EXT = Path(heliograph.ext.__file__).parent
ALLOWED = {"heliograph.plugins", "heliograph.plugins.toolkit"}
FILES = sorted(path for path in EXT.rglob("*.py") if path.parent != EXT)


def imported_modules(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(EXT)) for p in FILES])
def test_an_extension_imports_only_the_plugin_api_and_itself(path: Path) -> None:
    own = f"heliograph.ext.{path.relative_to(EXT).parts[0]}"
    wrong = [
        name
        for name in imported_modules(path)
        if (name == "heliograph" or name.startswith("heliograph."))
        and name not in ALLOWED
        and not (name == own or name.startswith(own + "."))
    ]
    assert wrong == [], f"{path} imports {wrong}; extensions may import only {sorted(ALLOWED)}"
