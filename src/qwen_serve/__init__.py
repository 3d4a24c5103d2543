"""qwen-serve: serve Qwen3-14B on SGLang, configured right for the GPU in front of it. The library API is
`qwen_serve.launch` (serve, prepare, check); the version is the installed distribution's (importlib.metadata)."""
