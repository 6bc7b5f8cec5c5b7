"""The repair agent: a tool-using loop (search, view, edit, run_tests, submit) with a reviewer at each step.

- :mod:`.loop` — the loop (:class:`~.loop.AgentLoop`, :func:`~.loop.run_agent`), its exits as exceptions;
- :mod:`.actions`, :mod:`.specs`, :mod:`.lenient`, :mod:`.protocol` — the tools' contract, reading an
  action from a native tool call or a text ``action`` block, and the messages of either protocol;
- :mod:`.tools` (with :mod:`.search`, :mod:`.outline`, :mod:`.testrun`) — what each tool does on the run's
  work tree;
- :mod:`.review` — the reviewer; :mod:`.condense` — the per-step context limit; :mod:`.prompts` — the
  first messages and the reviewer's prompt (templates in ``templates/``).

The strategy that runs it is :class:`repomind.pipeline.strategies.Agent` (``strategy: agent``).
"""
