"""Web layer: thin blueprints that parse, call the domain, and render."""
