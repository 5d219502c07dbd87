"""lambda-lab: learn AWS Lambda hands-on, locally, with plain boto3.

>>> import boto3, lambda_lab
>>> lab = lambda_lab.Lab()
>>> lam = boto3.client("lambda")
"""

from . import events, limits
from ._install import install, uninstall
from ._backends import LabStoppedError
from ._lab import Lab
from .packaging import Package, build_package, layer_zip, zip_folder, zip_source
from .pricing import invocation_cost, monthly_estimate
from .tuning import power_tune
from .exam import practice_exam, progress, questions, quiz, review

__version__ = "0.1.0"

__all__ = ["Lab", "LabStoppedError", "install", "uninstall", "zip_source", "zip_folder", "build_package", "layer_zip", "Package",
           "events", "power_tune", "monthly_estimate", "invocation_cost", "questions", "quiz", "practice_exam", "review", "progress",
           "limits", "__version__"]
