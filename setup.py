"""The one thing pyproject.toml cannot say: the top-level ``runtimes/`` folder (descriptors and preludes)
ships inside the package as ``faasctl/_runtimes``, where ``faasctl.registry`` finds it in an installed
wheel (a checkout reads ``runtimes/`` itself)."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["faasctl", "faasctl.*"]), "faasctl._runtimes"],
    package_dir={"faasctl._runtimes": "runtimes"},
    package_data={"faasctl._runtimes": ["*.yaml", "*.js", "*.prelude.py", "python_guest/*.py", "python_guest/*.wit"]},
    exclude_package_data={"faasctl._runtimes": ["__pycache__/*"]},
)
