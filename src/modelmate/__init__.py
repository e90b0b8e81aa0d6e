"""ModelMate: a personal diary of AI models and a hub to fine-tune, benchmark and publish open LLMs."""

__version__ = "0.1.0"
