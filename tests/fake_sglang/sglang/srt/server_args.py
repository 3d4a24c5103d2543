"""Stand-in for sglang.srt.server_args: the entry module (qwen_serve.sglang.entry) calls this."""


def prepare_server_args(argv):
    return list(argv)


class ServerArgs:
    """A stand-in parser: the flags of qwen-serve's 0.5.17 snapshot, less those named in FAKE_SGLANG_REMOVED_FLAGS (a
    release between adapters that removed them), for `--check` and the between-releases gate."""

    @staticmethod
    def add_cli_args(parser):
        import json
        import os
        from pathlib import Path

        snapshot = Path(__file__).resolve().parents[4] / "src/qwen_serve/sglang/releases/v0_5_17/flags.json"
        removed = set(filter(None, os.environ.get("FAKE_SGLANG_REMOVED_FLAGS", "").split(",")))
        types = {"int": int, "float": float, "human_readable_int": int, "loads": json.loads}
        for flag, spec in json.loads(snapshot.read_text())["flags"].items():
            if flag in removed:
                continue
            if not spec["takes_value"]:
                action = "store_false" if spec["default"] is True else "store_true"
                parser.add_argument(flag, dest=spec["dest"], action=action)
                continue
            parser.add_argument(
                flag,
                dest=spec["dest"],
                type=types.get(spec["type"], str),
                nargs=spec["nargs"],
                choices=spec["choices"],
                default=spec["default"],
            )
