"""The repair agent: a tool-using loop (search, view, edit, run_tests, submit) with a reviewer at each step.

``specs`` (the five tools), ``actions`` (reading a reply into actions), ``protocol`` (native tool calls
or the text protocol, and the messages of each), ``lenient`` (JSON as models write it).
"""
