"""Builds the generated pages of the docs site (run by MkDocs through :mod:`docsgen.hooks`)."""
