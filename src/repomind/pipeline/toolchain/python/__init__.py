"""The Python toolchain (:class:`PythonToolchain`): pytest and its JUnit report (``pytest_output``,
``junit``), pyflakes (``lint``), and the sandbox's pip recipe (:mod:`repomind.sandbox.setup_plan`)."""

from repomind.pipeline.toolchain.python.toolchain import FACTS, PythonToolchain

__all__ = ["FACTS", "PythonToolchain"]
