#!/usr/bin/env python3
"""SGLang's frontend language against a running qwen-serve / SGLang server.

Four programs, as the seed lists them: multi-turn chat, chain of thought, structured output
(regex and JSON schema) and batch generation. Each prints what it got.

    uv run qwen-serve --preset balanced &          # or any SGLang server
    uv run python scripts/sglang_example.py --host 127.0.0.1 --port 30000

Exit code: 0 when all four ran, 1 when any raised. With random weights (a model skeleton
served with --load-format dummy) the text is noise, but the constraints still hold: the regex
and JSON-schema outputs match, and `select` picks one of its choices.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import traceback

import sglang as sgl

PHONE_REGEX = r"\+86-1[3-9][0-9]-[0-9]{4}-[0-9]{4}"
CITY_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "enum": ["北京", "上海", "深圳", "杭州"]},
        "population_millions": {"type": "integer", "enum": [10, 20, 30]},
        "is_capital": {"type": "boolean"},
    },
    "required": ["city", "population_millions", "is_capital"],
    "additionalProperties": False,
}


@sgl.function
def multi_turn(s, questions):
    s += sgl.system("You are a concise assistant. 请用中文回答。")
    for i, question in enumerate(questions):
        s += sgl.user(question)
        s += sgl.assistant(sgl.gen(f"answer_{i}", max_tokens=64, temperature=0.7))


@sgl.function
def chain_of_thought(s, question):
    s += sgl.user(question)
    s += sgl.assistant_begin()
    s += "Let's think step by step.\n" + sgl.gen("reasoning", max_tokens=96, stop="\n\n")
    s += "\nSo the answer is " + sgl.select("answer", choices=["yes", "no"])
    s += sgl.assistant_end()


@sgl.function
def structured(s, person):
    s += sgl.user(f"Give a phone number for {person}, then describe a Chinese city as JSON.")
    s += sgl.assistant_begin()
    s += "Phone: " + sgl.gen("phone", regex=PHONE_REGEX, max_tokens=32)
    s += "\nCity: " + sgl.gen("city_json", json_schema=json.dumps(CITY_SCHEMA), max_tokens=128)
    s += sgl.assistant_end()


@sgl.function
def one_line_summary(s, topic):
    s += sgl.user(f"用一句话介绍{topic}。")
    s += sgl.assistant(sgl.gen("summary", max_tokens=32, temperature=0.8))


def run_multi_turn() -> dict:
    state = multi_turn.run(questions=["你好，介绍一下Python编程语言。", "它最适合做什么？"])
    return {"turns": [state["answer_0"], state["answer_1"]], "messages": len(state.messages())}


def run_chain_of_thought() -> dict:
    state = chain_of_thought.run(question="Is 17 * 23 greater than 390?")
    assert state["answer"] in ("yes", "no"), state["answer"]
    return {"reasoning": state["reasoning"], "answer": state["answer"]}


def run_structured() -> dict:
    state = structured.run(person="Li Lei")
    phone, city = state["phone"], json.loads(state["city_json"])
    assert re.fullmatch(PHONE_REGEX, phone), phone
    assert set(city) == set(CITY_SCHEMA["required"]), city
    return {"phone": phone, "regex_ok": True, "city": city, "schema_ok": True}


def run_batch() -> dict:
    topics = ["Python", "人工智能", "SGLang", "量子计算", "GPU", "Linux", "数据库", "编译器"]
    start = time.perf_counter()
    states = one_line_summary.run_batch([{"topic": t} for t in topics], progress_bar=False)
    seconds = time.perf_counter() - start
    return {
        "requests": len(states),
        "seconds": round(seconds, 3),
        "summaries": {t: st["summary"] for t, st in zip(topics, states)},
    }


EXAMPLES = {
    "multi_turn": run_multi_turn,
    "chain_of_thought": run_chain_of_thought,
    "structured": run_structured,
    "batch": run_batch,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=30000)
    ap.add_argument("--api-key", default=None)
    ap.add_argument("--only", choices=list(EXAMPLES), action="append")
    args = ap.parse_args()

    backend = sgl.RuntimeEndpoint(
        f"http://{args.host}:{args.port}", api_key=args.api_key, chat_template_name="chatml"
    )  # Qwen3 speaks ChatML
    sgl.set_default_backend(backend)
    failed = []
    for name in args.only or EXAMPLES:
        print(f"=== {name}", flush=True)
        try:
            print(json.dumps(EXAMPLES[name](), ensure_ascii=False, indent=2), flush=True)
        except Exception:  # noqa: BLE001 - report every example, then exit 1
            traceback.print_exc()
            failed.append(name)
    print(
        f"examples: {len(EXAMPLES) - len(failed) if not args.only else len(args.only) - len(failed)} ran, "
        f"{len(failed)} failed {failed if failed else ''}".rstrip()
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
