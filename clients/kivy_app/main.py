"""Entry point for python-for-android (buildozer runs ``main.py`` at the top of the
packaged tree; see buildozer.spec for the staging copy)."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
for root in (HERE, os.path.dirname(os.path.dirname(HERE))):
    if os.path.isdir(os.path.join(root, "a0core")):
        sys.path.insert(0, root)

from clients.kivy_app.__main__ import main  # noqa: E402

if __name__ == "__main__":
    main([])
