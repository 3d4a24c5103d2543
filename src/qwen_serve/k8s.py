"""`qwen-serve k8s`: Kubernetes manifests for the resolved configuration.

SGLang workers (a Deployment, one pod per replica, `nvidia.com/gpu: tp_size` each) behind SGLang's own
router (`sglang_router.launch_router`, or `smg.launch_router` for SGLang 0.5.18 on: the release adapter's;
cache-aware routing), which finds the worker pods through the
Kubernetes API (`--service-discovery --selector …`): no hand-kept list of worker URLs, and a worker that
is rescheduled rejoins on its own. The worker's command is the one `qwen-serve --dry-run` prints for the
same flags, for the same SGLang release; its probes mean what qwen-serve's readiness means: SGLang's
`/health_generate` answers only once one token has been generated. An API key never appears in the
manifests: workers and router read it from a Secret the user creates.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from .errors import QwenServeError
from .settings import ROUTER_METRICS_PORT
from .sglang.releases import check_router_policy

ENTRY_MODULE = "qwen_serve.sglang.entry"
METRICS_PORT = ROUTER_METRICS_PORT  # the router's Prometheus /metrics
KEY_ENV = "QWEN_SERVE_API_KEY"  # from the Secret; SGLang and the router get it as $(QWEN_SERVE_API_KEY)
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


@dataclass(frozen=True)
class Deployment:
    """What the manifests need beyond the launch settings."""

    name: str = "qwen3-14b"
    namespace: str = "default"
    replicas: int = 1
    image: str | None = None  # default: SGLang's own image of the target release
    router_image: str | None = None  # default: the worker image (SGLang's images carry sglang-router)
    router_policy: str = "cache_aware"
    shm: str = "16Gi"  # /dev/shm for SGLang's processes (NCCL and its IPC need more than a pod's 64 MiB)


def check(d: Deployment) -> None:
    if not (1 <= len(d.name) <= 40 and _DNS_LABEL.fullmatch(d.name)):
        raise QwenServeError(
            f"--name '{d.name}' is not a Kubernetes name",
            allowed="lowercase letters, digits and '-', starting and ending with a letter or digit, at most 40",
            fix="e.g. --name qwen3-14b",
        )
    if not _DNS_LABEL.fullmatch(d.namespace) or len(d.namespace) > 63:
        raise QwenServeError(
            f"--namespace '{d.namespace}' is not a Kubernetes namespace name",
            allowed="lowercase letters, digits and '-', at most 63",
            fix="e.g. --namespace default",
        )
    check_router_policy(d.router_policy)


def default_image(sglang_version: str) -> str:
    return f"lmsysorg/sglang:v{sglang_version}"


def literal(word: str) -> str:
    """A word of a container's command as Kubernetes must pass it: it expands $(VAR) there (a value holding
    "$(QWEN_SERVE_API_KEY)" would pull the Secret into SGLang's command line), and $$ is its escape."""
    return word.replace("$", "$$")


def worker_command(argv: list[str], port: int, api_key: bool) -> list[str]:
    """SGLang's argv as qwen-serve builds it, for a container: `python3` instead of this interpreter's
    path, listening on every interface of the pod, the key from the Secret by Kubernetes' $(VAR) expansion (the one
    reference written; every other word literal)."""
    args = ["python3", *argv[1:]]
    for flag, value in (("--host", "0.0.0.0"), ("--port", str(port))):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    return [literal(a) for a in args] + (["--api-key", f"$({KEY_ENV})"] if api_key else [])


def router_command(d: Deployment, worker_port: int, port: int, api_key: bool, module: str) -> list[str]:
    """The release's router (`module`: sglang_router, or smg from SGLang 0.5.18 on) with Kubernetes service discovery
    of the worker pods (checked by its own parser in CI)."""
    labels = worker_labels(d)
    words = [
        "python3",
        "-m",
        f"{module}.launch_router",
        "--service-discovery",
        "--selector",
        *(f"{k}={v}" for k, v in labels.items()),
        "--service-discovery-port",
        str(worker_port),
        "--service-discovery-namespace",
        d.namespace,
        "--policy",
        d.router_policy,
        "--host",
        "0.0.0.0",
        "--port",
        str(port),
        "--prometheus-host",
        "0.0.0.0",
        "--prometheus-port",
        str(METRICS_PORT),
    ]
    return [literal(w) for w in words] + (["--api-key", f"$({KEY_ENV})"] if api_key else [])


def worker_labels(d: Deployment) -> dict[str, str]:
    return {"app.kubernetes.io/name": d.name, "app.kubernetes.io/component": "worker"}


def router_labels(d: Deployment) -> dict[str, str]:
    return {"app.kubernetes.io/name": d.name, "app.kubernetes.io/component": "router"}


# where a worker's SGLang keeps its JIT caches (sglang.argv.JIT_CACHES): a volume of its own, beside the weights
JIT_CACHE_MOUNT = "/root/.cache/qwen-serve/jit"


HF_CACHE_SIZE = "64Gi"  # Qwen/Qwen3-14B is 27.5 GiB, -FP8 15.2 GiB, -AWQ 9.3 GiB: room for two of them
JIT_CACHE_SIZE = "8Gi"  # DeepGEMM's and humming's kernels (MBs each), flashinfer's, triton's


def _scrape(serves_metrics: bool, port: int) -> dict[str, Any]:
    """Prometheus' scrape annotations for a pod that serves /metrics on `port`; none where nothing is served."""
    if not serves_metrics:
        return {}
    return {
        "annotations": {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(port),
            "prometheus.io/path": "/metrics",
        }
    }


def _claim(name: str, size: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
    }


def _key_env(d: Deployment) -> list[dict[str, Any]]:
    ref = {"name": f"{d.name}-api-key", "key": "api-key"}
    return [{"name": KEY_ENV, "valueFrom": {"secretKeyRef": ref}}]


def manifests(
    d: Deployment,
    argv: list[str],
    environ: dict[str, str],
    *,
    port: int,
    tp_size: int,
    api_key: bool,
    sglang_version: str,
    router_module: str,  # the release's router (Release.router_module)
    ready_timeout: float = 1200,
    stop_timeout: float = 30,
) -> list[dict[str, Any]]:
    """The resources, in the order `kubectl apply -f` should meet them. `argv`/`environ`: SGLang's command
    and the variables qwen-serve sets for it (without the API key)."""
    check(d)
    if len(argv) > 2 and argv[2] == ENTRY_MODULE and not d.image:
        raise QwenServeError(
            "this configuration runs SGLang through qwen-serve's entry module (the torchao fix or the layered "
            "loader run inside SGLang's processes), which SGLang's own image does not have",
            fix="pass --image with an image that has qwen-serve installed, or choose a preset without torchao",
        )
    image = d.image or default_image(sglang_version)
    env = [{"name": k, "value": v} for k, v in sorted(environ.items())] + (_key_env(d) if api_key else [])
    worker = _worker_container(image, worker_command(argv, port, api_key), env, port, tp_size, ready_timeout)
    router = {
        "name": "router",
        "image": d.router_image or image,
        "command": router_command(d, port, port, api_key, router_module),
        "ports": [{"name": "http", "containerPort": port}, {"name": "metrics", "containerPort": METRICS_PORT}],
        "env": _key_env(d) if api_key else [],
        "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 30},
    }
    return [
        *_router_access(d),
        _workers_service(d, port),
        _worker_set(d, worker, "--enable-metrics" in argv, port, stop_timeout),
        _router_deployment(d, router),
        _router_service(d, port),
    ]


def _worker_container(
    image: str, command: list[str], env: list[dict], port: int, tp_size: int, ready_timeout: float
) -> dict[str, Any]:
    generate = {"httpGet": {"path": "/health_generate", "port": "http"}, "timeoutSeconds": 30}
    return {
        "name": "sglang",
        "image": image,
        "command": command,
        "ports": [{"name": "http", "containerPort": port}],
        "env": env,
        "resources": {"limits": {"nvidia.com/gpu": tp_size}},
        "volumeMounts": [
            {"name": "dshm", "mountPath": "/dev/shm"},
            {"name": "hf-cache", "mountPath": "/root/.cache/huggingface"},
            {"name": "jit-cache", "mountPath": JIT_CACHE_MOUNT},
        ],
        # ready = what qwen-serve's readiness means: one token generated (SGLang's /health_generate)
        "startupProbe": {**generate, "periodSeconds": 10, "failureThreshold": math.ceil(ready_timeout / 10)},
        "readinessProbe": {**generate, "periodSeconds": 10, "failureThreshold": 3},
        "livenessProbe": {
            "httpGet": {"path": "/health", "port": "http"},
            "periodSeconds": 30,
            "timeoutSeconds": 10,
            "failureThreshold": 3,
        },
    }


def _router_access(d: Deployment) -> list[dict[str, Any]]:
    """The router's ServiceAccount and the Role it needs: it watches the worker pods, nothing else."""
    sa, meta = f"{d.name}-router", {"namespace": d.namespace}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa, **meta}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": sa, **meta},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": sa, **meta},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": d.namespace}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": sa},
        },
    ]


def _workers_service(d: Deployment, port: int) -> dict[str, Any]:
    """Headless: the StatefulSet's pods get stable names (and so keep their volumes)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"{d.name}-workers", "namespace": d.namespace, "labels": worker_labels(d)},
        "spec": {"clusterIP": "None", "selector": worker_labels(d), "ports": [{"name": "http", "port": port}]},
    }


def _worker_set(d: Deployment, worker: dict, metrics: bool, port: int, stop_timeout: float) -> dict[str, Any]:
    """A StatefulSet, so that each worker keeps its weights and JIT caches on a volume of its own across restarts
    and rollouts (an emptyDir would download 15-28 GB and compile again in every new pod)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": f"{d.name}-worker", "namespace": d.namespace, "labels": worker_labels(d)},
        "spec": {
            "serviceName": f"{d.name}-workers",
            "replicas": d.replicas,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": worker_labels(d)},
            "template": {
                "metadata": {"labels": worker_labels(d), **_scrape(metrics, port)},
                "spec": {
                    "terminationGracePeriodSeconds": math.ceil(stop_timeout) + 10,  # SGLang drains first
                    "containers": [worker],
                    "volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": d.shm}}],
                },
            },
            "volumeClaimTemplates": [_claim("hf-cache", HF_CACHE_SIZE), _claim("jit-cache", JIT_CACHE_SIZE)],
        },
    }


def _router_deployment(d: Deployment, router: dict) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{d.name}-router", "namespace": d.namespace, "labels": router_labels(d)},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": router_labels(d)},
            "template": {
                "metadata": {"labels": router_labels(d), **_scrape(True, METRICS_PORT)},  # the router: always
                "spec": {"serviceAccountName": f"{d.name}-router", "containers": [router]},
            },
        },
    }


def _router_service(d: Deployment, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": d.name, "namespace": d.namespace, "labels": router_labels(d)},
        "spec": {
            "selector": router_labels(d),
            "ports": [
                {"name": "http", "port": port, "targetPort": "http"},
                {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"},
            ],
        },
    }


def to_yaml(docs: list[dict[str, Any]], header: str) -> str:
    import yaml

    body = "---\n".join(yaml.safe_dump(doc, sort_keys=False, width=120) for doc in docs)
    return "".join(f"# {line}\n" for line in header.splitlines()) + "---\n" + body


def manifest_command(prepared):
    """The launch and SGLang command for a manifest (`prepared`: pipeline.Prepared): the API key left out (a Secret
    supplies it), rebuilt for the same SGLang release."""
    from .sglang.argv import build_command

    launch = prepared.launch.with_setting("api_key", None, "k8s: the Secret")
    return launch, build_command(launch, prepared.command.target, jit_folder=JIT_CACHE_MOUNT)
