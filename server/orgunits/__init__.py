"""The org-unit tree: loading the official lists, local units, and queries over it."""
