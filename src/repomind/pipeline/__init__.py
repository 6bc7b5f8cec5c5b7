"""The pipeline: localise, patch, test, reflect, as typed stages whose outputs are artifacts on disk."""
