"""Data: registry (dataset_info.json), file readers, format converters to one conversation form."""
