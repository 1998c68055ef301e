"""The layers' import rules (ARCHITECTURE.md), checked on the source: a forbidden import fails here.

Every ``import`` and ``from ... import`` is counted, at module level or inside a function (a lazy
import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

# (the layer, the layers it must never import, why)
CONTRACTS: list[tuple[str, tuple[str, ...], str]] = [
    ("redisguard.rules", ("redisguard.connect", "redisguard.collect", "redisguard.cli", "redisguard.keyspace",
                          "redisguard.streams", "redisguard.render"), "rules are pure: Snapshot in, findings out"),
    ("redisguard.render", ("redisguard.collect", "redisguard.connect", "redisguard.cli"),
     "renderers format models; they never talk to Redis"),
    ("redisguard.snapshot", ("redisguard.collect", "redisguard.connect", "redisguard.rules", "redisguard.render",
                             "redisguard.cli"), "the snapshot is plain data"),
    ("redisguard.streams", ("redisguard.cli", "redisguard.render"), "the streams library stands without the CLI"),
    ("redisguard.keyspace", ("redisguard.cli", "redisguard.render"), "the keyspace engine stands without the CLI"),
    ("redisguard.collect", ("redisguard.cli", "redisguard.render", "redisguard.rules"),
     "collectors only collect"),
    ("redisguard.connect", ("redisguard.cli", "redisguard.collect", "redisguard.rules", "redisguard.render"),
     "connect is the bottom layer"),
    ("redisguard.errors", ("redisguard.cli", "redisguard.collect", "redisguard.connect", "redisguard.rules"),
     "the error root depends on nothing of ours"),
    ("redisguard.keynames", ("redisguard.",), "escaping depends on nothing of ours"),
]
# collect/ and keyspace/ must not lean on each other: the caller wires the doctor's key sampler into
# collect. Owned by the keyspace branch (issue 8 item 4); strict xfail until that lands.
ENGINE_CONTRACTS: list[tuple[str, tuple[str, ...], str]] = [
    ("redisguard.collect", ("redisguard.keyspace",), "collect knows no engine"),
    ("redisguard.keyspace", ("redisguard.collect",), "the keyspace engine knows no collector"),
]


def _module_name(path: Path, src: Path = SRC) -> str:
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, src: Path = SRC) -> set[str]:
    module = _module_name(path, src)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def _violations(layer: str, forbidden: tuple[str, ...], src: Path = SRC) -> list[str]:
    bad = []
    for path in sorted((src / "redisguard").rglob("*.py")):
        module = _module_name(path, src)
        if module != layer and not module.startswith(layer + "."):
            continue
        for target in sorted(_imports(path, src)):
            if any(target == f or target.startswith(f if f.endswith(".") else f + ".") for f in forbidden):
                bad.append(f"{module} imports {target}")
    return bad


def test_the_checker_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    source = "import os\nfrom . import sibling\n\ndef f():\n    from redisguard.cli import main\n"
    fake = tmp_path / "redisguard" / "rules" / "probe.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(source)
    assert _imports(fake, tmp_path) >= {"os", "redisguard.rules", "redisguard.rules.sibling", "redisguard.cli.main"}
    assert _violations("redisguard.rules", ("redisguard.cli",), tmp_path) == [
        "redisguard.rules.probe imports redisguard.cli", "redisguard.rules.probe imports redisguard.cli.main"]


@pytest.mark.parametrize(("layer", "forbidden", "why"), CONTRACTS, ids=[c[0] for c in CONTRACTS])
def test_layer_imports(layer: str, forbidden: tuple[str, ...], why: str) -> None:
    assert _violations(layer, forbidden) == [], why


@pytest.mark.parametrize(("layer", "forbidden", "why"), ENGINE_CONTRACTS, ids=[c[0] for c in ENGINE_CONTRACTS])
def test_engines_do_not_lean_on_each_other(layer: str, forbidden: tuple[str, ...], why: str) -> None:
    assert _violations(layer, forbidden) == [], why


# The engines' modules are private (``_name.py``): a caller imports what the package's ``__init__`` exports.
ENGINES = ("keyspace", "streams")
# Internal helpers another layer of ours may take from an engine's private module (not part of the library's
# promise, so not exported): each with its reason.
PRIVATE_IMPORTS_ALLOWED = {
    "redisguard.streams._ids.format_id": "the HTML report shows stream ids the way the streams engine writes them",
    "redisguard.streams._safety.TRIM_SCRIPT": "fix runs the same Lua trim script the Trimmer runs",
    "redisguard.streams._clients.AsyncClient": "a type-only import in the wire layer's stream writer",
}


@pytest.mark.parametrize("engine", ENGINES)
def test_engine_internals_are_private_modules(engine: str) -> None:
    public = sorted(path.name for path in (SRC / "redisguard" / engine).glob("*.py")
                    if path.name != "__init__.py" and not path.name.startswith("_"))
    assert public == [], f"redisguard.{engine}: modules other than __init__ are internal and named _name.py"


def test_other_layers_import_engines_through_their_package() -> None:
    bad, used = [], set()
    for path in sorted((SRC / "redisguard").rglob("*.py")):
        module = _module_name(path)
        for engine in ENGINES:
            package = f"redisguard.{engine}"
            if module == package or module.startswith(package + "."):
                continue
            for target in _imports(path):
                if not target.startswith(package + "._") or target.count(".") < 3:
                    continue
                if target in PRIVATE_IMPORTS_ALLOWED:
                    used.add(target)
                else:
                    bad.append(f"{module} imports {target}")
    assert sorted(set(PRIVATE_IMPORTS_ALLOWED) - used) == [], "an allowed private import no longer exists: drop it"
    assert bad == [], "import the engine's exported names from its package (or list the helper, with a reason)"
