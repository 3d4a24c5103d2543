"""A stand-in for `python -m sglang.launch_server`, for qwen-serve's supervision tests.

Prints SGLang 0.5.17-like log lines (phases, tqdm bars with carriage returns, the
server_args line that includes the API key), then serves /health and /generate on
--host/--port like SGLang does. FAKE_SGLANG_MODE picks a behaviour:
ok | crash_oom | crash_port | never_ready | ignore_term | grandchild | sglang_stop

sglang_stop stops as SGLang 0.5.17 does (tokenizer_manager.py, utils/common.py): a scheduler
child process; SIGTERM to the server process drains running requests, then ends the tree with
SIGKILL, itself included (exit 137); a scheduler that dies of a signal of its own is "crashed":
SIGQUIT path, no drain, SIGKILL. FAKE_SGLANG_GENERATE_DELAY makes /generate take that long;
FAKE_SGLANG_COMPILE_PAUSE holds the CUDA-graph bar at its first step that long (a first start's JIT compile).

/v1/models and streamed /v1/completions answer as SGLang's do, one "token" per event. FAKE_SGLANG_SPEED sets how
fast, per kernel family, as JSON {family: [a, b]}: each token takes a + b x (other streams running) seconds, so a family
with a small `a` leads at one request and one with a small `b` under load. The family is --quantization's value, else
"checkpoint:" + the model's config.json quant_method, else "bf16" (kernel_family()).
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def arg(name, default=None):
    argv = sys.argv[1:]
    return argv[argv.index(name) + 1] if name in argv else default


MODE = os.environ.get("FAKE_SGLANG_MODE", "ok")
HOST, PORT, KEY = arg("--host", "127.0.0.1"), int(arg("--port", "30000")), arg("--api-key")
STEP = float(os.environ.get("FAKE_SGLANG_STEP", "0.01"))
IN_FLIGHT = []  # requests being answered (SGLang's rid_to_state)
STOPPING = threading.Event()


def log(text, end="\n"):
    sys.stdout.write(f"[2026-11-25 14:08:58] {text}{end}")
    sys.stdout.flush()
    time.sleep(STEP)


def tqdm(label, total, pause=0.0):
    """A tqdm bar as SGLang's processes print it: updates ended by \r, one \n when done. `pause`: seconds after the
    first step (a first start's JIT compile inside the first CUDA graph)."""
    for i in range(total + 1):
        sys.stdout.write(f"\r{label}: {100 * i // total:3d}%|#####     | {i}/{total} [00:01<00:01]")
        sys.stdout.flush()
        time.sleep(pause if i == 1 else STEP / 2)
    sys.stdout.write("\n")


STREAMS = []  # completions being streamed


def kernel_family():
    if arg("--quantization"):
        return arg("--quantization")
    try:
        with open(os.path.join(arg("--model-path", "."), "config.json")) as f:
            method = (json.load(f).get("quantization_config") or {}).get("quant_method")
    except (OSError, ValueError):
        method = None
    return f"checkpoint:{method}" if method else "bf16"


def token_delay():
    a, b = json.loads(os.environ.get("FAKE_SGLANG_SPEED") or "{}").get(kernel_family(), [0.001, 0.0])
    return a + b * (len(STREAMS) - 1)


class Handler(BaseHTTPRequestHandler):
    def _authorized(self):
        return not KEY or self.headers.get("Authorization") == f"Bearer {KEY}"

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            self._send(200, {})
        elif self.path == "/v1/models":
            name = arg("--served-model-name") or arg("--model-path")
            self._send(200, {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "sglang"}]})
        else:
            self._send(404, {"detail": "Not Found"})

    def _stream(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        STREAMS.append(self)
        try:
            tokens = int(body.get("max_tokens") or 16)
            for i in range(tokens):
                time.sleep(token_delay())
                last = i == tokens - 1
                event = {"choices": [{"index": 0, "text": "x", "finish_reason": "length" if last else None}]}
                if last:
                    event["usage"] = {"prompt_tokens": 8, "completion_tokens": tokens, "total_tokens": tokens + 8}
                self.wfile.write(b"data: " + json.dumps(event).encode() + b"\n\n")
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
        finally:
            STREAMS.remove(self)
        self.close_connection = True

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        data = self.rfile.read(length)
        if not self._authorized():
            self._send(401, {"error": "Unauthorized"})
        elif self.path == "/v1/completions":
            self._stream(json.loads(data or b"{}"))
        elif self.path == "/generate":
            IN_FLIGHT.append(self)
            time.sleep(float(os.environ.get("FAKE_SGLANG_GENERATE_DELAY", "0")))
            self._send(200, {"text": "!", "meta_info": {"completion_tokens": 1}})
            IN_FLIGHT.remove(self)
        else:
            self._send(404, {"detail": "Not Found"})

    def log_message(self, fmt, *args):
        sys.stdout.write(f"[2026-11-25 14:09:00] INFO:     {self.client_address[0]} - {fmt % args}\n")
        sys.stdout.flush()


def sglang_stop_mode():
    # like SGLang's scheduler (sglang.srt.utils.kill_itself_when_parent_died): SIGKILLed when its parent dies
    scheduler = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import ctypes, signal, time; ctypes.CDLL('libc.so.6').prctl(1, signal.SIGKILL); time.sleep(300)",
        ]
    )
    with open(os.environ["FAKE_SGLANG_PIDFILE"], "w") as f:
        f.write(str(scheduler.pid))

    def end_tree():
        scheduler.kill()
        os.kill(os.getpid(), signal.SIGKILL)

    def watchdog():  # SGLang's subprocess watchdog
        code = scheduler.wait()
        if not STOPPING.is_set():
            log(
                f"Subprocess scheduler_0 (pid={scheduler.pid}) crashed with exit code {code}. Triggering SIGQUIT for cleanup..."
            )
            log("SIGQUIT received. signum=None, frame=None. It usually means one child failed.")
            end_tree()

    def drain():
        while IN_FLIGHT:
            log(f"Gracefully exiting... Remaining number of requests {len(IN_FLIGHT)}.")
            time.sleep(0.2)
        STOPPING.set()  # the watchdog stops; schedulers get ShutdownReq
        end_tree()

    def on_term(*_):
        log("SIGTERM received. signum=None frame=None. Draining requests and shutting down...")
        threading.Thread(target=drain, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    threading.Thread(target=watchdog, daemon=True).start()


def main():
    if MODE == "sglang_stop":
        sglang_stop_mode()
    elif MODE == "ignore_term":  # a hung server: deaf to SIGTERM and SIGINT
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: log("signal received; ignoring it (stand-in)"))
    else:
        signal.signal(signal.SIGTERM, lambda *_: (log("Received sigterm, shutting down"), sys.exit(0)))
    if MODE == "grandchild":
        helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        with open(os.environ["FAKE_SGLANG_PIDFILE"], "w") as f:
            f.write(str(helper.pid))
    log(f"server_args=ServerArgs(model_path='{arg('--model-path')}', host='{HOST}', port={PORT}, api_key={KEY!r})")
    if os.environ.get("FAKE_SGLANG_SPLIT_KEY") and KEY:  # the key in two writes: a pipe read may end between them
        sys.stdout.write(f"[2026-11-25 14:08:58] api_key='{KEY[:4]}")
        sys.stdout.flush()
        time.sleep(0.3)
        sys.stdout.write(f"{KEY[4:]}' (one line, two writes)\n")
        sys.stdout.flush()
    for name in filter(None, os.environ.get("FAKE_SGLANG_ECHO_ENV", "").split(",")):
        log(f"env {name}={os.environ.get(name, '<unset>')}")  # what the stand-in was given
    log("Init torch distributed begin.")
    log("Init torch distributed ends. elapsed=0.12 s, mem usage=0.09 GB")
    for name in ("SGLANG_HUMMING_ONLINE_QUANT_CONFIG", "SGLANG_HUMMING_INPUT_QUANT_CONFIG"):
        if name in os.environ:  # what SGLang's humming.py reads (envs.SGLANG_HUMMING_*)
            log(f"humming env {name}={os.environ[name]}")
    log("Load weight begin. avail mem=78.50 GB")
    tqdm("Loading safetensors checkpoint shards", 4)
    if MODE == "crash_oom":
        log("Traceback (most recent call last):")
        log(
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.25 GiB. GPU 0 has a total capacity of 23.55 GiB"
        )
        sys.exit(1)
    log("Load weight end. elapsed=0.25 s, type=Qwen3ForCausalLM, avail mem=50.98 GB, mem usage=27.53 GB.")
    log("KV Cache is allocated. dtype: torch.bfloat16, #tokens: 246525, K size: 18.81 GB, V size: 18.81 GB")
    log("Capture target decode CUDA graph begin. backend=full, num_tokens_per_req=1, bs=[1, 2, 4, 8]")
    tqdm("Capturing batches (bs=8 avail_mem=10.82 GB)", 4, float(os.environ.get("FAKE_SGLANG_COMPILE_PAUSE", "0")))
    log("Capture target decode CUDA graph end. elapsed=9.05 s, mem usage=0.34 GB, avail mem=10.59 GB.")
    log(
        "max_total_num_tokens=246525, chunked_prefill_size=8192, max_prefill_tokens=16384, "
        "max_running_requests=3081, context_len=40960, available_gpu_mem=10.59 GB"
    )
    if MODE == "crash_port":
        log(
            "ERROR:    [Errno 98] error while attempting to bind on address ('127.0.0.1', 30000): address already in use"
        )
        log("OSError: [Errno 98] Address already in use")
        sys.exit(1)
    if MODE == "never_ready":
        while True:
            time.sleep(1)
    time.sleep(float(os.environ.get("FAKE_SGLANG_BIND_DELAY", "0")))  # a slow start (CUDA graphs) before the bind
    ThreadingHTTPServer.request_queue_size = 256  # socketserver's 5 would drop a level's connections (1 s retries)
    server = ThreadingHTTPServer((HOST, PORT), Handler)
    log(f"INFO:     Uvicorn running on http://{HOST}:{PORT} (Press CTRL+C to quit)")
    log("The server is fired up and ready to roll!")
    server.serve_forever()


def run_server(server_args):
    """What qwen_serve.sglang.entry calls (SGLang's own run_server(ServerArgs)): the same stand-in, with the
    arguments the entry module handed over (the API key among them, which is in no process's argv)."""
    global HOST, PORT, KEY
    sys.argv = ["sglang.launch_server", *server_args]
    HOST, PORT, KEY = arg("--host", "127.0.0.1"), int(arg("--port", "30000")), arg("--api-key")
    log(f"cmdline {open('/proc/self/cmdline', 'rb').read().replace(bytes(1), b' ').decode()}")
    main()


if __name__ == "__main__":
    main()
