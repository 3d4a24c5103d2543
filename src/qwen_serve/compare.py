"""`qwen-test --compare URL`: the same prompts, greedily, to this server and a reference server.

What a user needs to judge a quantization on their own weights: serve the bf16 model (the reference)
and the quantized one, then compare what they generate. Per prompt, both servers decode greedily
(temperature 0) through /v1/completions. Reported:

- token agreement: the tokens the two servers generate alike before their first difference, as a share
  of the reference's tokens (after a difference the two continue from different text, so later
  positions are not compared);
- mean KL divergence KL(reference || this) of the next-token distributions at those shared positions,
  from each side's top-K logprobs (`logprobs: K`): both renormalized over the union of their top-K
  tokens, a token missing from one side's top-K taken at that side's K-th logprob. It measures
  numeric error against the reference, not task accuracy. Servers that return no logprobs
  (`transformers serve`) give token agreement only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import QwenServeError

# Short prompts of the kinds users send (the original guide's own first), in Chinese and English.
DEFAULT_PROMPTS = (
    "你好，介绍一下Python编程语言。",
    "The capital of France is",
    "def fibonacci(n):\n    ",
    "请用三句话解释什么是量子计算。",
    "List three prime numbers greater than 100:",
    "Translate to English: 今天天气很好，我们去公园散步吧。",
    "In one paragraph, explain why the sky is blue.",
    "1, 1, 2, 3, 5, 8, 13,",
)


@dataclass(frozen=True)
class Side:
    name: str  # "this" or "reference"
    base_url: str  # http://host:port, no /v1
    model: str | None
    api_key: str | None = None


@dataclass
class Generation:
    tokens: list[str]
    top: list[dict[str, float]] | None  # per position: token -> logprob; None without logprobs


@dataclass
class PromptResult:
    prompt: str
    reference_tokens: int
    agreed: int  # tokens alike before the first difference
    first_difference: int | None  # position, or None when all compared tokens agree
    kl: list[float] = field(default_factory=list)  # per shared position

    @property
    def mean_kl(self) -> float | None:
        return sum(self.kl) / len(self.kl) if self.kl else None


@dataclass
class Report:
    this: str
    reference: str
    max_tokens: int
    top_logprobs: int
    prompts: list[PromptResult]

    @property
    def agreement(self) -> float:
        total = sum(p.reference_tokens for p in self.prompts)
        return sum(p.agreed for p in self.prompts) / total if total else 1.0

    @property
    def kl_positions(self) -> int:
        return sum(len(p.kl) for p in self.prompts)

    @property
    def mean_kl(self) -> float | None:
        values = [v for p in self.prompts for v in p.kl]
        return sum(values) / len(values) if values else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "this": self.this,
            "reference": self.reference,
            "max_tokens": self.max_tokens,
            "top_logprobs": self.top_logprobs,
            "token_agreement": round(self.agreement, 4),
            "mean_kl": None if self.mean_kl is None else round(self.mean_kl, 6),
            "kl_positions": self.kl_positions,
            "prompts": [{**asdict(p), "mean_kl": p.mean_kl} for p in self.prompts],
        }


def kl_divergence(reference: dict[str, float], this: dict[str, float]) -> float:
    """KL(P || Q) in nats from two top-K logprob maps (see the module docstring for the floor)."""
    tokens = set(reference) | set(this)
    floor_p, floor_q = min(reference.values()), min(this.values())
    p = {t: math.exp(reference.get(t, floor_p)) for t in tokens}
    q = {t: math.exp(this.get(t, floor_q)) for t in tokens}
    zp, zq = sum(p.values()), sum(q.values())
    return max(0.0, sum(p[t] / zp * (math.log(p[t] / zp) - math.log(q[t] / zq)) for t in tokens))


def load_prompts(path: str | None) -> list[str]:
    """--prompts as qwen-bench reads it (bench.load_prompts: one {"prompt": "..."} a line), or the built-in set."""
    if not path:
        return list(DEFAULT_PROMPTS)
    from .bench import load_prompts as read_prompts

    prompts = read_prompts(path)
    if not prompts:
        raise QwenServeError(f"--prompts {path}: no prompts in the file", fix='write one {"prompt": "..."} per line')
    return prompts


class Generator:
    """Greedy completions from one side; asks for logprobs once, and goes on without them if refused."""

    def __init__(
        self,
        side: Side,
        max_tokens: int,
        top_logprobs: int,
        tokenize: Callable[[str], list[str]] | None,
        timeout: float,
    ):
        self.side, self.max_tokens, self.k, self.tokenize, self.timeout = (
            side,
            max_tokens,
            top_logprobs,
            tokenize,
            timeout,
        )
        self.logprobs = top_logprobs > 0

    def __call__(self, prompt: str) -> Generation:
        import httpx

        from .client import Unreachable, auth_headers, one_line
        from .safe_http import bounded_client
        from .wire import Completion, ValidationError, why

        body: dict[str, Any] = {
            "model": self.side.model,
            "prompt": prompt,
            "max_tokens": self.max_tokens,
            "temperature": 0,
        }
        url = self.side.base_url + "/v1/completions"
        try:
            with bounded_client(self.timeout) as http:
                for attempt in (1, 2):
                    r = http.post(
                        url,
                        json={**body, **({"logprobs": self.k} if self.logprobs else {})},
                        headers=auth_headers(self.side.api_key),
                    )
                    if r.status_code < 400 or not self.logprobs or attempt == 2:
                        break
                    self.logprobs = False  # e.g. transformers serve: "logprobs" is not supported
        except httpx.HTTPError as exc:
            raise Unreachable(f"{self.side.base_url} ({self.side.name}: {exc.__class__.__name__}: {exc})") from None
        if r.status_code >= 400:
            raise QwenServeError(
                f"{self.side.name} server {self.side.base_url} answered {r.status_code}: {one_line(r.text, 200)}"
            )
        try:
            choice = Completion.model_validate_json(r.content).choices[0]
        except ValidationError as exc:
            raise QwenServeError(
                f"{self.side.name} server {self.side.base_url}: /v1/completions answered no completion ({why(exc)})"
            ) from None
        lp = choice.logprobs
        if lp and lp.tokens and lp.top_logprobs:
            return Generation(list(lp.tokens), [dict(entry or {}) for entry in lp.top_logprobs])
        if self.tokenize is None:
            raise QwenServeError(
                f"{self.side.name} server returns no logprobs, so its tokens are not known",
                fix="pass --tokenizer DIR (the model's tokenizer.json) to count tokens here",
            )
        return Generation(self.tokenize(choice.text or ""), None)


def compare_one(prompt: str, reference: Generation, this: Generation) -> PromptResult:
    agreed, first = 0, None
    for i, token in enumerate(reference.tokens):
        if i >= len(this.tokens) or this.tokens[i] != token:
            first = i
            break
        agreed += 1
    kl = []
    if reference.top is not None and this.top is not None:
        # position i's distribution follows the same text on both sides up to and including the first difference
        shared = len(reference.tokens) if first is None else first + 1
        for i in range(min(shared, len(reference.top), len(this.top))):
            if reference.top[i] and this.top[i]:
                kl.append(kl_divergence(reference.top[i], this.top[i]))
    return PromptResult(prompt, len(reference.tokens), agreed, first, kl)


def local_tokenizer(path: str | None) -> Callable[[str], list[str]] | None:
    if not path:
        return None
    from .bench import read_tokenizer

    tok = read_tokenizer(path)
    return lambda text: [str(i) for i in tok.encode(text, add_special_tokens=False).ids]


def served(side: Side, timeout: float) -> Side:
    """The side with its model named: the first one /v1/models lists, unless given."""
    if side.model:
        return side
    import httpx

    from .client import Unreachable, auth_headers
    from .safe_http import bounded_client
    from .wire import first_model

    try:
        with bounded_client(timeout) as http:
            r = http.get(side.base_url + "/v1/models", headers=auth_headers(side.api_key))
    except httpx.HTTPError as exc:
        raise Unreachable(f"{side.base_url} ({side.name}: {exc.__class__.__name__}: {exc})") from None
    found, why_not = first_model(r.status_code, r.content)
    if found is None:
        raise QwenServeError(
            f"the {side.name} server {side.base_url}: /v1/models {why_not}",
            fix="name it: --model NAME (this server) or --compare-model NAME (the reference)",
        )
    return Side(side.name, side.base_url, found, side.api_key)


def compare(
    this: Side,
    reference: Side,
    prompts: list[str],
    max_tokens: int = 32,
    top_logprobs: int = 5,
    tokenizer: str | None = None,
    timeout: float = 120.0,
    on_prompt: Callable[[PromptResult], None] = lambda p: None,
) -> Report:
    tokenize = local_tokenizer(tokenizer)
    this, reference = served(this, timeout), served(reference, timeout)
    gen_this = Generator(this, max_tokens, top_logprobs, tokenize, timeout)
    gen_ref = Generator(reference, max_tokens, top_logprobs, tokenize, timeout)
    results = []
    for prompt in prompts:
        ref = gen_ref(prompt)
        out = gen_this(prompt)
        if (ref.top is None) != (out.top is None) and tokenize is not None:
            ref, out = (
                Generation(ref.tokens if ref.top is None else tokenize("".join(ref.tokens)), None),
                Generation(out.tokens if out.top is None else tokenize("".join(out.tokens)), None),
            )
        result = compare_one(prompt, ref, out)
        results.append(result)
        on_prompt(result)
    return Report(this.base_url, reference.base_url, max_tokens, top_logprobs, results)
