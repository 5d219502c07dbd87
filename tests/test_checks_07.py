"""Exercise 07.1: package a handler with the library it imports (the solution's pip install needs PyPI)."""

import boto3
import pytest

import lambda_lab
from lambda_lab import checks
from lambda_lab.checks import CheckFailed
from conftest import lab_with_function

HANDLER = """
from tabulate import tabulate

def handler(event, context):
    return tabulate(event["rows"], headers=["item", "in stock"])
"""


@pytest.fixture
def lam():
    with lab_with_function(70, "stock-report", HANDLER) as client:
        yield client


def deploy(lam, zip_bytes):
    lam.update_function_code(FunctionName="stock-report", ZipFile=zip_bytes)
    lam.get_waiter("function_updated_v2").wait(FunctionName="stock-report")


def add_layer(lam, layer_bytes):
    layer = lam.publish_layer_version(LayerName="tabulate", Content={"ZipFile": layer_bytes},
                                      CompatibleRuntimes=["python3.13"])
    lam.update_function_configuration(FunctionName="stock-report", Layers=[layer["LayerVersionArn"]])
    lam.get_waiter("function_updated_v2").wait(FunctionName="stock-report")


def failure(**kwargs) -> str:
    with pytest.raises(CheckFailed) as info:
        checks.ex_07_package(**kwargs)
    return str(info.value)


def test_the_solution_passes(lam, capsys):
    deploy(lam, lambda_lab.build_package(HANDLER, requirements=["tabulate==0.10.0"]).zip_bytes)
    checks.ex_07_package("stock-report")
    assert capsys.readouterr().out == "Check passed: 'stock-report' imports tabulate and answers its table.\n"


def test_a_layer_passes_too(lam, capsys):
    add_layer(lam, lambda_lab.layer_zip(lambda_lab.build_package(requirements=["tabulate==0.10.0"])))
    checks.ex_07_package()
    assert capsys.readouterr().out.startswith("Check passed")


def test_doing_nothing_fails():
    with lambda_lab.Lab(seed=70, quiet=True) as lab:
        boto3.client("lambda").create_function(
            FunctionName="stock-report", Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
            Code={"ZipFile": lambda_lab.zip_source(HANDLER)})
        message = failure()
    assert "still cannot import tabulate" in message
    assert "only sees its deployment package (unpacked in /var/task) and its layers" in message


def test_no_function_at_all_says_to_run_the_setup():
    with lambda_lab.Lab(quiet=True):
        assert "Run the exercise's setup cell first" in failure()


def test_library_installed_in_the_notebook_but_not_in_the_package(lam, tmp_path, monkeypatch):
    # As after `%pip install tabulate`: the notebook's Python can import it, the function still cannot
    (tmp_path / "tabulate.py").write_text("def tabulate(rows, headers=()):\n    return 'a table'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import tabulate  # noqa: F401  (importable here now)

    message = failure()
    assert "tabulate is installed in this notebook's Python, but that does not reach the function" in message
    assert "only sees its deployment package" in message and "pip install --target" in message
    assert "tabulate==0.10.0" not in message and "build_package(" not in message  # a hint, not the answer


def test_a_layer_without_the_python_folder_is_named(lam):
    # The library's files at the layer's root land in /opt, which is not on sys.path
    layer = lambda_lab.zip_source({"tabulate.py": "def tabulate(rows, headers=()):\n    return ''\n"})
    add_layer(lam, layer)
    assert "under python/" in failure()


def test_only_the_libraries_without_the_handler(lam):
    deploy(lam, lambda_lab.zip_source({"tabulate.py": "def tabulate(rows, headers=()):\n    return ''\n"}))
    assert "no app.py at the root of its package" in failure()


def test_a_changed_handler_is_noticed(lam):
    deploy(lam, lambda_lab.zip_source("def handler(event, context):\n    return 'item in stock'\n"))
    message = failure()
    assert "Keep the handler's code as it was" in message
    assert "answered 'item in stock'" in message


# -- exercise 07.2: a shared layer built without its python/ folder ------------------------------------

from lambda_lab.checks.ex_07_function_packages import MONEY, SHARED, TOTAL, broken_layer  # noqa: E402

HELPERS = {"helpers/__init__.py": "", "helpers/money.py": MONEY}


@pytest.fixture
def shared():
    """The exercise's setup: a layer with helpers/ at its root, attached to two handler-only functions."""
    with lambda_lab.Lab(seed=72, quiet=True) as lab:
        lam = boto3.client("lambda")
        layer = lam.publish_layer_version(LayerName="shared-helpers", Content={"ZipFile": broken_layer()},
                                          CompatibleRuntimes=["python3.13"])
        for name in SHARED:
            lam.create_function(FunctionName=name, Runtime="python3.13", Role=lab.role_arn, Handler="app.handler",
                                Code={"ZipFile": lambda_lab.zip_source(TOTAL)}, Layers=[layer["LayerVersionArn"]])
            lam.get_waiter("function_active_v2").wait(FunctionName=name)
        yield lam


def use_layer(lam, names, layer_arn):
    for name in names:
        lam.update_function_configuration(FunctionName=name, Layers=[layer_arn])
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)


def fixed_layer(lam) -> str:
    return lam.publish_layer_version(LayerName="shared-helpers", Content={"ZipFile": lambda_lab.layer_zip(HELPERS)},
                                     CompatibleRuntimes=["python3.13"])["LayerVersionArn"]


def layer_failure() -> str:
    with pytest.raises(CheckFailed) as failed:
        checks.ex_07_shared_layer()
    return str(failed.value)


def test_shared_layer_solution_passes(shared, capsys):
    use_layer(shared, SHARED, fixed_layer(shared))
    checks.ex_07_shared_layer()
    assert capsys.readouterr().out.startswith("Check passed: 'invoice-total' and 'receipt-total' import helpers")


def test_shared_layer_blank_fails_without_the_answer(shared):
    message = layer_failure()
    assert message.startswith("'invoice-total' still fails: Runtime.ImportModuleError: Unable to import module "
                              "'app': No module named 'helpers'.")
    assert "shared-helpers:1, the layer version whose zip holds `helpers/` at its root" in message
    assert "Layers: code that several functions share" in message
    for answer in ("python/", "layer_zip", "publish_layer_version", "update_function_configuration"):
        assert answer not in message


def test_publishing_a_good_version_without_attaching_it_is_named(shared):
    fixed_layer(shared)
    assert "A newer version of the layer exists, but a function runs exactly the layer version it names" \
        in layer_failure()


def test_fixing_only_one_function_names_the_other(shared):
    use_layer(shared, SHARED[:1], fixed_layer(shared))
    assert layer_failure().startswith("'receipt-total' still fails")


def test_copying_helpers_into_each_package_breaks_the_requirement(shared):
    # it works, but the shared code now lives in two places
    for name in SHARED:
        shared.update_function_code(FunctionName=name, ZipFile=lambda_lab.zip_source({"app.py": TOTAL, **HELPERS}))
        shared.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert "is not its original one any more" in layer_failure()
