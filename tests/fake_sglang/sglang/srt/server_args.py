"""Stand-in for sglang.srt.server_args: the entry module (qwen_serve.sglang.entry) calls this."""


def prepare_server_args(argv):
    return list(argv)
