"""Using finished weights: chat (and compare), the device-memory note beside running runs, export."""
