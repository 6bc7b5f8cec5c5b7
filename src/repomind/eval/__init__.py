"""Evaluation harnesses that drive the pipeline from outside: SWE-bench (``swebench/``) and localisation
replay, calibration and plots (``localise/``). The runtime pipeline never imports them."""
