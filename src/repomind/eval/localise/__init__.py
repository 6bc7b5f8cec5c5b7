"""`repomind eval localise` and `repomind calibrate`: localisation replayed on SWE-bench-format data."""
