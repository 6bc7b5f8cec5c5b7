"""The comment command language: the grammar and parser, the triggers that act on commands, options."""
