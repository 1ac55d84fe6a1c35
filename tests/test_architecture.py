"""The package's shape: no import cycle inside sim/, and only the pairing programme talks to the model.

Imports are read from the source (AST), counting ``if TYPE_CHECKING:`` and
function-level imports too, so a cycle hidden from the interpreter still fails.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

SIM = Path(__file__).resolve().parent.parent / "sim"


def module_name(path: Path) -> str:
    parts = path.relative_to(SIM.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The sim modules ``path`` imports anywhere in its source (``from sim.a import b`` counts sim.a.b if that is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name in modules}


def import_graph() -> nx.DiGraph:
    paths = {module_name(path): path for path in SIM.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(paths)
    for name, path in paths.items():
        graph.add_edges_from((name, target) for target in imported_modules(path, set(paths)) if target != name)
    return graph


def late_imports(path: Path) -> set[str]:
    """Modules ``path`` loads by name at run time (``importlib.import_module("...")`` or of a module-level constant)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module":
            argument = node.args[0]
            if isinstance(argument, ast.Constant):
                found.add(argument.value)
            elif isinstance(argument, ast.Name):
                found.add(constants.get(argument.id, f"<{argument.id}>"))
    return found


def test_the_one_late_import_is_the_registry_loading_the_built_ins():
    """The registry binds the built-in entries late, like a plugin, so that the scenario schema can check policy types
    and flows by name without importing the code behind them (which needs the county core, which needs the schema).
    That is the only import by name in sim/; counted as an edge it closes the loop registry -> builtin -> flows ->
    registry, by design: entries hold functions, and those functions read entries."""
    late = {module_name(path): late_imports(path) for path in SIM.rglob("*.py")}
    assert {module: names for module, names in late.items() if names} == {"sim.pairing.registry": {"sim.pairing.builtin"}}


def test_sim_has_no_import_cycle():
    cycles = list(nx.simple_cycles(import_graph()))
    assert not cycles, f"import cycles: {[' -> '.join([*cycle, cycle[0]]) for cycle in cycles[:5]]}"


def test_only_the_programme_and_the_model_meet():
    """Within sim.pairing, nothing imports the model; the model reaches pairing only through the programme (and the
    county and registry types it hands over)."""
    graph = import_graph()
    assert not [m for m in graph.predecessors("sim.model") if m.startswith("sim.pairing")]
    pairing_imports = {m for m in graph.successors("sim.model") if m.startswith("sim.pairing")}
    assert pairing_imports <= {"sim.pairing.programme", "sim.pairing.county", "sim.pairing.registry"}


def test_the_county_core_does_not_know_pairing():
    """Economy, labour and households take pairing's influence as a value; they import nothing from sim.pairing.

    (They do reach the pairing section's schema through the scenario schema, as every part of a scenario does.)
    """
    graph = import_graph()
    for core in ("sim.economy", "sim.labour", "sim.households", "sim.influence", "sim.urban", "sim.region"):
        assert not [m for m in graph.successors(core) if m.startswith("sim.pairing")], core
        assert not {"sim.pairing.programme", "sim.pairing.flows", "sim.model"} & nx.descendants(graph, core), core


def test_the_graph_sees_a_cycle(tmp_path, monkeypatch):
    """The check itself can fail: two modules importing each other (one only under TYPE_CHECKING) form a cycle."""
    package = tmp_path / "sim"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sim.b import B\n")
    (package / "b.py").write_text("from sim.a import A\n")
    monkeypatch.setattr(__import__(__name__), "SIM", package)
    assert list(nx.simple_cycles(import_graph()))


def test_without_policies_the_county_core_gets_the_neutral_influence():
    """A scenario without pairing hands the economy and labour exactly NEUTRAL, before and after a month."""
    from sim.influence import NEUTRAL
    from sim.model import PairingModel
    from sim.scenario import resolve_scenario

    model = PairingModel(resolve_scenario(None, {"pairing.policies": [], "horizon_years": 1}), rng=1)
    assert model.influence is NEUTRAL
    model.step()
    assert model.influence is NEUTRAL
