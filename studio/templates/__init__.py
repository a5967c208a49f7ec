"""Chat templates: a conversation -> slots with trainable flags; tool-call formats; `auto` from a model's Jinja."""
