"""The browser UI (Gradio): one module per tab; it only calls studio functions and renders results."""
