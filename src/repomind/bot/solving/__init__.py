"""The pipeline adapter: the Pipeline port the runner calls, the solve pipeline, outcomes."""
