"""Jobs: the worker (its handler per queue message) and the job runner."""
