"""The collaborator's app: an offline-first Kivy app on top of a core with no Kivy import.

``core/`` holds everything that decides something (encrypted store, forms, outbox,
sync, merge) and is tested without a screen; ``ui/`` only draws and forwards taps.
"""
