"""Server keys, and later the other security building blocks (DESIGN §6)."""
