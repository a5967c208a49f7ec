"""Lowest layer: the run-config schema, errors and their en/zh messages, the workspace and its fence, presets,
the run-folder contract, machine facts. Imports nothing else of the studio."""
