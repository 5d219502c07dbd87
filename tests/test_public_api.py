"""The public surface is exactly what __all__ lists, and the layers depend downward only."""

import ast
import pathlib

import lambda_lab

PACKAGE = pathlib.Path(lambda_lab.__file__).parent


def test_public_names():
    assert sorted(lambda_lab.__all__) == sorted(["Lab", "LabStoppedError", "install", "uninstall", "zip_source", "zip_folder",
                                                 "build_package", "layer_zip", "Package", "events", "power_tune",
                                                 "monthly_estimate", "invocation_cost", "questions", "quiz", "practice_exam",
                                                 "review", "progress", "limits", "__version__"])
    for name in lambda_lab.__all__:
        assert getattr(lambda_lab, name) is not None


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield ("." * node.level) + (node.module or "")


def test_runtime_knows_nothing_of_moto_or_the_service():
    for path in (PACKAGE / "runtime").glob("*.py"):
        for name in _imports(path):
            assert not name.startswith(("moto", "boto3", "botocore", "..service")), (path.name, name)


def test_only_the_moto_bridge_touches_moto_internals():
    for path in PACKAGE.rglob("*.py"):
        for name in _imports(path):
            if name.startswith("moto.") and name not in ("moto.moto_server.werkzeug_app",):
                assert path.parent.name == "_moto", (path, name)


def _service_graph():
    """Which service module imports which (TYPE_CHECKING imports included: they are a dependency too)."""
    graph = {}
    for path in (PACKAGE / "service").glob("*.py"):
        graph[path.stem] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:  # `from ._x import y`, `from . import _x`
                graph[path.stem] |= {node.module.partition(".")[0]} if node.module else \
                    {alias.name for alias in node.names}
    return graph


def test_service_modules_import_no_circle():
    graph = _service_graph()
    assert "_invoke" in graph["__init__"] and "_target" in graph["_async"]  # the walk sees real imports

    def reaches(start, goal, seen=()):
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen + (nxt,)))
                   for nxt in graph.get(start, ()))

    circles = sorted(m for m in graph if m != "__init__" and reaches(m, m))
    assert circles == [], f"service modules that import themselves through others: {circles}"
