"""qwen-serve: serve Qwen3-14B on SGLang, configured right for the GPU in front of it."""

__version__ = "0.1.0"
