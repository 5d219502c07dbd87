"""lambda-lab: learn AWS Lambda hands-on, locally, with plain boto3.

>>> import boto3, lambda_lab
>>> lab = lambda_lab.Lab()
>>> lam = boto3.client("lambda")
"""

from ._install import install, uninstall
from ._lab import Lab
from .packaging import zip_source

__version__ = "0.1.0"

__all__ = ["Lab", "install", "uninstall", "zip_source", "__version__"]
