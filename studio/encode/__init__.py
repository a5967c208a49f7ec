"""Conversations -> input_ids + labels: the encoder, truncation, packing, the tokenized cache, length statistics."""
