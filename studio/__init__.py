"""Fine-tuning studio: register data, train LoRA adapters in a subprocess, watch, and chat."""

__version__ = "0.1.0"
