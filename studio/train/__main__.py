"""`python -m studio.train RUN_DIR [--resume CHECKPOINT]`: the training worker."""

from studio.train.worker import cli

if __name__ == "__main__":
    raise SystemExit(cli())
