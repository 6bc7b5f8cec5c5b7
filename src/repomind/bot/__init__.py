"""GitHub App side: auth, the GitHub client seam, comment commands, config, status comments, the worker."""
