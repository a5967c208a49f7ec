"""What a model folder is (tokenizer, context, weights' shapes from headers), how it loads, what it costs in memory."""
