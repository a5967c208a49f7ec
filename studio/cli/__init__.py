"""`python -m studio ...`: each sub-command calls the same function as its button in the UI."""
