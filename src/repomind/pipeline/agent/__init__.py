"""The repair agent: a tool-using loop (search, view, edit, run_tests, submit) with a reviewer."""
