"""The worker (`python -m studio.train RUN_DIR`), its Trainer setup, progress, worst rows, the demo, pre-launch checks."""
