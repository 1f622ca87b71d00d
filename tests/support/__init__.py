"""Test support: real PostgreSQL, database templates, shared fixtures."""
