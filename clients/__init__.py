"""Clients of the a0sync server (the collaborator's app)."""
