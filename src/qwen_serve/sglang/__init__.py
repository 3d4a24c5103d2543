"""What depends on the SGLang release: its argv, its flag snapshots and capabilities, the parser check,
its log reader, and the patches that run inside its processes (entry module, torchao fix, layered loader)."""
