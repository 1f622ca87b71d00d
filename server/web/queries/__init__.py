"""SQL for the dashboard pages: every query filtered by ``Scope.where`` and paged.

Handlers call these and render; nothing here imports Flask.
"""
