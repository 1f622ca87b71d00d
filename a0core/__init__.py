"""Pure-Python core shared by the server and the collaborator app.

Nothing here imports Flask, SQLAlchemy or Kivy: the app bundles this package on
Android, and the server builds on the same definitions, so a form, a code list,
an error message or a merge rule exists exactly once.
"""
