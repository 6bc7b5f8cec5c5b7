"""The offline SWE-bench evaluation: predictions in, per-instance verdicts from the sandbox out.

One concept per module: ``jsonl`` (instances and predictions), ``specs`` (the environment of a
repository and version), ``grading`` (the ``swebench`` log parsers and the verdict), ``harness`` (one
instance in the sandbox), ``batch`` (all instances, resume, workers), ``report`` (summary, markdown,
plots), ``official`` (the hand-off to the official harness) and ``model`` (predictions from ``solve``).
"""
