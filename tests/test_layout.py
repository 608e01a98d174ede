"""The package's layout holds: no import cycle among dpomath's modules (function-level imports
included), every lazy public name and every derivation resolves, the old module paths forward
with a DeprecationWarning, and the light paths (errors, --version, bad arguments) import
neither SymPy nor SciPy."""
import ast
import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import dpomath

ROOT = Path(__file__).resolve().parents[1]
#: repository folder -> the package it installs as
PACKAGES = {"dpomath": "dpomath", "proofs": "dpomath.proofs", "validation": "dpomath.validation"}


def _modules() -> dict[str, Path]:
    out = {}
    for folder, pkg in PACKAGES.items():
        for f in sorted((ROOT / folder).rglob("*.py")):
            parts = list(f.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([pkg, *parts])] = f
    return out


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def import_graph() -> dict[str, set[str]]:
    """module -> the dpomath modules it imports anywhere in its source (module level, inside
    functions, under TYPE_CHECKING): ``import a.b``, ``from a import b`` (b a module or a
    name of a), relative imports resolved."""
    mods = _modules()
    graph = {m: set() for m in mods}
    for mod, path in mods.items():
        pkg = mod if _is_package(path) else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    src = ".".join(base + ([node.module] if node.module else []))
                else:
                    src = node.module or ""
                for a in node.names:
                    sub = f"{src}.{a.name}"
                    targets.append(sub if sub in mods else src)
            for t in targets:
                while t and t not in mods:  # `import dpomath.x.y` of a name: its module
                    t = t.rpartition(".")[0]
                if t and t != mod:
                    graph[mod].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_among_the_modules():
    graph = import_graph()
    assert len(graph) > 60 and "dpomath.lastlayer.runs" in graph
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    """Negative control: the old layout's two cycles are found when put back."""
    g = {"a.margins": {"a.guarantees"}, "a.guarantees": {"a.margins"}, "a.clusters": set(),
         "v.claims": {"v.experiment"}, "v.experiment": {"v.claims", "a.clusters"}}
    assert cycles(g) == [["a.guarantees", "a.margins"], ["v.claims", "v.experiment"]]


def test_the_graph_sees_function_level_and_relative_imports():
    g = import_graph()
    # runs imports the kernel at module level and the loss family inside simulate()
    assert {"dpomath.lastlayer.margins", "dpomath.losses"} <= g["dpomath.lastlayer.runs"]
    # `from .. import _args` in a sub-package, `from ..losses import ops` (a module)
    assert "dpomath._args" in g["dpomath.lastlayer.clusters"]
    assert "dpomath.losses.ops" in g["dpomath.lastlayer.theorem43"]


def test_the_experiments_sit_above_the_kernels():
    g = import_graph()
    for kernel in ("dpomath.lastlayer.margins", "dpomath.lastlayer.theorem42",
                   "dpomath.lastlayer.theorem43"):
        assert not g[kernel] & {"dpomath.lastlayer.runs", "dpomath.lastlayer.descent"}, kernel
    assert "dpomath.validation.command" not in set().union(*(g[m] for m in g if m != "dpomath.validation.command"))
    # the library never imports the claims (the ledger and the CLI find them by name)
    lib = [m for m in g if not m.startswith(("dpomath.proofs", "dpomath.validation"))]
    assert not any(t.startswith(("dpomath.proofs", "dpomath.validation")) for m in lib for t in g[m])


def test_every_lazy_name_and_module_resolves():
    for name, mod in dpomath._LAZY.items():
        if mod.startswith("validation."):
            pytest.importorskip("numpy")
        value = getattr(importlib.import_module(f"dpomath.{mod}"), name)
        assert value is not None, name
    for name in dpomath._MODULES:
        assert getattr(dpomath, name).__name__ == f"dpomath.{name}"


def test_every_derivation_loads():
    from dpomath.verify.derive import derivations

    names = derivations()
    assert {"dpo-gradient", "update-ratio", "log-coordinates", "gpo-ratio", "3d-limits",
            "lemma-4.1", "tabular-step", "squeezing"} <= set(names)
    assert all(callable(f) for f in names.values())


OLD = {  # dpomath 0.1 path -> a name and where it lives now
    "dpomath.margins": ("solve_margins", "dpomath.lastlayer.margins"),
    "dpomath.guarantees": ("theorem42_outcome", "dpomath.lastlayer.runs"),
    "dpomath.scaling": ("clopper_pearson", "dpomath.verify.stats"),
    "dpomath.ledger": ("claim", "dpomath.verify.ledger"),
    "dpomath.symbolic": ("reduces_to_zero", "dpomath.verify.twins"),
    "dpomath.tabular": ("derivation", "dpomath.toys.derivations"),
    "dpomath.toy": ("cached_sweep", "dpomath.toys.sweeps"),
    "dpomath.cli": ("main", "dpomath.verify.cli"),
    "dpomath.plots.validation": ("three_d", "dpomath.validation.figures"),
    "dpomath.validation.experiment": ("validate_command", "dpomath.validation.command"),
}


@pytest.mark.parametrize("old", sorted(OLD))
def test_old_module_paths_forward_with_a_deprecation_warning(old):
    name, new = OLD[old]
    mod = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=rf"{old}\.{name} is deprecated: use {new}\."):
        value = getattr(mod, name)
    renamed = {"derivation": "tabular_step"}.get(name, name)
    assert value is getattr(importlib.import_module(new), renamed)
    with pytest.raises(AttributeError):
        getattr(mod, "no_such_name")
    assert name in dir(mod)


def test_new_paths_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        from dpomath.lastlayer.margins import solve_margins  # noqa: F401
        from dpomath.verify.ledger import claim  # noqa: F401
        import dpomath.strategies  # noqa: F401
        from dpomath.testing import check_preference_loss  # noqa: F401


def test_papers_table_is_the_one_source_of_letters():
    from dpomath.verify import ledger
    from dpomath.verify.cli import _build_parser

    letters = ledger.paper_letters()
    assert letters == list(ledger.PAPERS) == ["F", "Y", "G", "I", "R", "S", "V"]
    import dpomath.validation.claims  # noqa: F401  (imported before proofs: the order must not change)

    ids = list(ledger.registry())
    papers = [i.split("-")[0] for i in ids]
    assert papers == sorted(papers, key=letters.index)  # report order follows the table
    i_ids = [i for i in ids if i.startswith("I-")]
    assert i_ids[0] == "I-L41" and i_ids.index("I-EMP-RATE") > i_ids.index("I-RATE-THEORY")
    verify = _build_parser()._subparsers._group_actions[0].choices["verify"]
    paper = next(a for a in verify._actions if a.dest == "paper")
    assert list(paper.choices) == letters


LIGHT = """
import sys
{code}
heavy = sorted(m for m in ("sympy", "scipy", "torch", "mpmath") if m in sys.modules)
assert not heavy, heavy
"""


@pytest.mark.parametrize("code", [
    "import dpomath; dpomath.BadValue, dpomath.BadType",
    "import dpomath.verify.cli",
    "import dpomath.losses",
    "from dpomath.verify.cli import main\nfor argv in (['--version'], ['qstar', '--K', '0', '--eps', '1'],"
    " ['simulate', '--K', '2', '--Q', '3', '--loss', 'nope'], ['verify', '--paper', 'X'],"
    " ['derive'], ['nosuch']):\n    try:\n        rc = main(argv)\n    except SystemExit as e:\n"
    "        rc = e.code\n    assert rc in (0, 2), (argv, rc)",
])
def test_error_paths_import_neither_sympy_nor_scipy(code):
    subprocess.run([sys.executable, "-c", LIGHT.format(code=code)], check=True,
                   capture_output=True, text=True)


def test_the_light_path_check_can_fail():
    """Negative control: the same check catches a module that does import SymPy."""
    r = subprocess.run([sys.executable, "-c", LIGHT.format(code="import dpomath.symbols")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "sympy" in r.stderr
