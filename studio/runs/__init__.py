"""Run folders from the outside: prepare + launch (one path for UI and CLI), status, queue, abort, resume, curves."""
