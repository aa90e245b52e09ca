"""The duplicate-person model: its settings (settings.py) and trained parameters (model.json)."""
