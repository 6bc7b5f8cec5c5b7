"""The stand-in GitHub for tests: its state in memory (:mod:`.state`), the REST endpoints over it
(:mod:`.rest`, with the OAuth web flow in :mod:`.oauth`), the git smart-HTTP remote (:mod:`.gitserver`),
both served on loopback (:mod:`.server`), and GitHub's own example bodies (``data/``).

The public names are re-exported once, by :mod:`repomind.testing`."""
