"""`qwen-serve k8s`: manifests that Kubernetes' own schemas accept, whose worker runs exactly the command
`--dry-run` prints and whose router command sglang-router's own parser reads as meant."""

from __future__ import annotations

import pytest
import yaml


def manifests(qwen_serve, *args: str) -> dict[str, dict]:
    result = qwen_serve("k8s", *args)
    assert result.exit_code == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}


def container(docs: dict, name: str) -> dict:
    kind = "StatefulSet" if name.endswith("-worker") else "Deployment"
    return docs[f"{kind}/{name}"]["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("preset", ["fp8", "balanced", "high_performance"])
def test_manifests_pass_kubernetes_own_schemas(qwen_serve, preset):
    import kubernetes_validate

    docs = manifests(qwen_serve, "--preset", preset, "--replicas", "2", "--api-key", "sk-secret")
    assert sorted(docs) == [
        "Deployment/qwen3-14b-router",
        "Role/qwen3-14b-router",
        "RoleBinding/qwen3-14b-router",
        "Service/qwen3-14b",
        "Service/qwen3-14b-workers",
        "ServiceAccount/qwen3-14b-router",
        "StatefulSet/qwen3-14b-worker",
    ]
    for doc in docs.values():
        kubernetes_validate.validate(doc, "1.31", strict=True)  # raises on any unknown or mistyped field
    assert docs["StatefulSet/qwen3-14b-worker"]["spec"]["replicas"] == 2


def test_the_worker_runs_what_dry_run_prints(qwen_serve):
    flags = ("--preset", "balanced", "--port", "31000")
    dry = qwen_serve("--dry-run", "--json", *flags).json()
    worker = container(manifests(qwen_serve, *flags), "qwen3-14b-worker")
    argv = dry["argv"]
    argv[argv.index("--host") + 1] = "0.0.0.0"
    assert worker["command"] == ["python3", *argv[1:]]
    # humming's quantization, as launched
    assert {e["name"]: e["value"] for e in worker["env"]} == {e["name"]: e["value"] for e in dry["env"]}
    assert worker["resources"] == {"limits": {"nvidia.com/gpu": 1}}
    assert worker["ports"] == [{"name": "http", "containerPort": 31000}]
    # ready means one token generated, as qwen-serve's own readiness does
    assert worker["readinessProbe"]["httpGet"]["path"] == "/health_generate"
    assert worker["startupProbe"]["failureThreshold"] * worker["startupProbe"]["periodSeconds"] >= 1200


def test_the_router_discovers_the_workers_as_its_own_parser_reads_it(qwen_serve):
    from qwen_serve.sglang.router_entry import parse as parse_router_args  # the router's own parser

    docs = manifests(qwen_serve, "--preset", "fp8", "--namespace", "serving", "--router-policy", "power_of_two")
    router = container(docs, "qwen3-14b-router")
    assert router["command"][:3] == ["python3", "-m", "sglang_router.launch_router"]
    args = parse_router_args(router["command"][3:], "sglang_router")
    worker_labels = docs["StatefulSet/qwen3-14b-worker"]["spec"]["selector"]["matchLabels"]
    assert args.service_discovery and args.selector == worker_labels
    assert (args.service_discovery_namespace, args.service_discovery_port, args.policy) == (
        "serving",
        30000,
        "power_of_two",
    )
    assert (
        docs["Service/qwen3-14b"]["spec"]["selector"]
        == docs["Deployment/qwen3-14b-router"]["spec"]["selector"]["matchLabels"]
    )
    role = docs["Role/qwen3-14b-router"]["rules"]
    assert role == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]


def test_the_api_key_comes_from_a_secret_and_is_never_printed(qwen_serve, monkeypatch):
    monkeypatch.setenv("QWEN_SERVE_API_KEY", "sk-from-env")
    result = qwen_serve("k8s", "--preset", "fp8")
    assert result.exit_code == 0 and "sk-from-env" not in result.stdout + result.stderr
    docs = {d["kind"] + "/" + d["metadata"]["name"]: d for d in yaml.safe_load_all(result.stdout) if d}
    for name in ("qwen3-14b-worker", "qwen3-14b-router"):
        c = container(docs, name)
        assert c["command"][-2:] == ["--api-key", "$(QWEN_SERVE_API_KEY)"]  # Kubernetes expands it from env
        ref = {e["name"]: e for e in c["env"]}["QWEN_SERVE_API_KEY"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "qwen3-14b-api-key", "key": "api-key"}
    assert "create secret generic qwen3-14b-api-key" in result.stdout
    monkeypatch.delenv("QWEN_SERVE_API_KEY")
    assert "--api-key" not in container(manifests(qwen_serve, "--preset", "fp8"), "qwen3-14b-worker")["command"]


@pytest.mark.parametrize(
    "args, words",
    [
        (("--replicas", "0"), "'--replicas': 0 is not in the range x>=1"),
        (("--replicas", "two"), "'--replicas': 'two' is not a valid integer"),
        (("--name", "Qwen_14B"), "--name 'Qwen_14B' is not a Kubernetes name"),
        (("--namespace", "a.b"), "--namespace 'a.b' is not a Kubernetes namespace name"),
        (("--router-policy", "fastest"), "--router-policy 'fastest' is not a policy of SGLang's router"),
        (("--preset", "balanced_torchao"), "pass --image with an image that has qwen-serve installed"),
        (("--preset", "high_performance", "--gpu", "RTX 4090"), "memory plan on"),
        (("--preset", "balnced"), "unknown preset"),
    ],
)
def test_bad_k8s_input_is_one_line(qwen_serve, args, words):
    result = qwen_serve("k8s", *args)
    assert result.exit_code == 2, result.stdout
    assert len(result.error_lines) == 1 and words in result.stderr, result.stderr
    assert result.stdout == ""


def test_weights_and_jit_caches_outlive_a_pod(qwen_serve):
    """Each worker's Hugging Face cache and JIT caches are persistent volumes of its own (a StatefulSet's claims),
    mounted where SGLang and qwen-serve look: a restarted pod neither downloads nor compiles again."""
    from qwen_serve.k8s import JIT_CACHE_MOUNT

    docs = manifests(qwen_serve, "--preset", "fp8", "--replicas", "2")
    worker = docs["StatefulSet/qwen3-14b-worker"]["spec"]
    claims = {c["metadata"]["name"] for c in worker["volumeClaimTemplates"]}
    mounts = {m["name"]: m["mountPath"] for m in container(docs, "qwen3-14b-worker")["volumeMounts"]}
    assert claims == {"hf-cache", "jit-cache"}
    assert mounts["hf-cache"] == "/root/.cache/huggingface" and mounts["jit-cache"] == JIT_CACHE_MOUNT
    assert not any("emptyDir" in v and v["name"] in claims for v in worker["template"]["spec"]["volumes"])
    assert docs["Service/qwen3-14b-workers"]["spec"]["clusterIP"] == "None"


def test_pods_that_serve_metrics_carry_prometheus_scrape_annotations(qwen_serve):
    """The router always serves /metrics; a worker while SGLang's --enable-metrics is on (qwen-serve's default,
    measured free on the H200); --no-enable-metrics takes the worker's annotations away with the flag."""
    metrics = manifests(qwen_serve, "--preset", "fp8", "--port", "31000")
    worker = metrics["StatefulSet/qwen3-14b-worker"]["spec"]["template"]["metadata"]["annotations"]
    assert worker == {"prometheus.io/scrape": "true", "prometheus.io/port": "31000", "prometheus.io/path": "/metrics"}
    router = metrics["Deployment/qwen3-14b-router"]["spec"]["template"]["metadata"]["annotations"]
    assert router["prometheus.io/scrape"] == "true" and router["prometheus.io/port"] == "29000"
    plain = manifests(qwen_serve, "--preset", "fp8", "--no-enable-metrics")
    assert "annotations" not in plain["StatefulSet/qwen3-14b-worker"]["spec"]["template"]["metadata"]


# --- #39: Kubernetes expands $(VAR) in command and args; no value of ours may reach the Secret ------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def kubernetes_expand(word: str, env: dict[str, str]) -> str:
    """Kubernetes' expansion of a container's command word: $$ -> $, $(VAR) -> its value where VAR is defined."""
    out, i = "", 0
    while i < len(word):
        if word.startswith("$$", i):
            out, i = out + "$", i + 2
        elif word.startswith("$(", i) and ")" in word[i:]:
            end = word.index(")", i)
            name = word[i + 2 : end]
            out, i = out + env.get(name, word[i : end + 1]), end + 1
        else:
            out, i = out + word[i], i + 1
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=24) | st.sampled_from(["$(QWEN_SERVE_API_KEY)", "$$(X)", "$", "$("]), max_size=6))
def test_no_word_of_the_worker_command_expands_to_anything_but_itself(words):
    from qwen_serve.k8s import KEY_ENV, worker_command

    argv = ["/usr/bin/python3", "-m", "sglang.launch_server", "--model-path", "m", *words]
    command = worker_command(argv, 30000, api_key=True)
    expanded = [kubernetes_expand(w, {KEY_ENV: "SECRET"}) for w in command]
    assert expanded[-2:] == ["--api-key", "SECRET"]
    assert "SECRET" not in expanded[:-1]
    assert expanded[:-2] == [
        "python3",
        "-m",
        "sglang.launch_server",
        "--model-path",
        "m",
        *words,
        "--host",
        "0.0.0.0",
        "--port",
        "30000",
    ]
