"""`genphase study PRESET --quick --seeds ...` on the local executor and on a local Ray instance (docs/scaling.md).

Prints, per executor: the study's wall time, the graph's wall time, the number of tasks run, the sum
of their own seconds (what the stage functions took), and the overhead per task:
local: (graph wall - sum of task seconds) / tasks; Ray: (CPUs x graph wall - sum of task seconds) /
tasks, an upper bound that also counts CPUs left idle while tasks wait for their dependencies. Ray's
start-up (``ray.init`` of a local instance and its shutdown) is timed separately.

    OMP_NUM_THREADS=1 python benchmarks/bench_executors.py breast-cancer-mlp --seeds 0 1 2 3 --out /tmp/bench
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("preset")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3])
    ap.add_argument("--out", default="/tmp/bench-executors")
    ap.add_argument("--executors", nargs="+", default=["local", "ray"])
    a = ap.parse_args()
    import os

    from genphase.pipeline import driver
    from genphase.pipeline.study import study

    cpus = len(os.sched_getaffinity(0))
    results = {}
    if "ray" in a.executors:
        from genphase.pipeline.executors import get_executor

        t0 = time.perf_counter()
        ex = get_executor("ray")
        t1 = time.perf_counter()
        ex.close()
        results["ray_start_s"], results["ray_stop_s"] = round(t1 - t0, 2), round(time.perf_counter() - t1, 2)
    seen = {}
    orig = driver.run_plans

    def spy(plans, executor, **kw):
        out = orig(plans, executor, **kw)
        seen["report"] = plans[0].graph_report
        return out

    driver.run_plans = spy
    for name in a.executors:
        root = Path(a.out) / name
        shutil.rmtree(root, ignore_errors=True)
        t0 = time.perf_counter()
        study(a.preset, a.seeds, quick=True, out=root, log=lambda m: None, report=True, executor=name)
        wall = time.perf_counter() - t0
        rep = seen["report"]
        n, work = len(rep.ran), sum(rep.seconds.values())
        par = 1 if name == "local" else cpus
        results[name] = {"study_wall_s": round(wall, 2), "graph_wall_s": round(rep.wall_s, 2), "tasks": n,
                         "task_seconds_sum": round(work, 2),
                         "overhead_per_task_ms": round(1000 * (par * rep.wall_s - work) / n, 1),
                         "by_stage_s": _by_stage(rep.seconds)}
        print(json.dumps({name: results[name]}), flush=True)
    print(json.dumps(results, indent=1))


def _by_stage(seconds: dict) -> dict:
    out: dict = {}
    for nid, s in seconds.items():
        kind = nid.split("/", 1)[1] if nid.startswith("seed_") else nid
        kind = "extract" if kind.startswith("extract/") else "train/baseline" if kind.startswith("train/baseline") else kind
        out.setdefault(kind, [0, 0.0])
        out[kind][0] += 1
        out[kind][1] = round(out[kind][1] + s, 2)
    return out


if __name__ == "__main__":
    main()
