"""A sweep with Ray: mesascope.train (PPO in Rust) over a grid of training-set sizes and
seeds, one Ray task per run, each run then audited; prints every run's held-out success and
deployment success with their 95% intervals and sample sizes, and its verdict.

    pip install '.[ray]'
    python examples/ray_sweep.py --diversity 16 inf --seeds 0 1 2
    RAY_ADDRESS=auto python examples/ray_sweep.py ...   # on a running cluster (`ray start`)

On a cluster the workers write the runs under --out, which must be a directory every node
sees (a shared file system); each task trains on one core.
"""

import argparse
import json
import os
from pathlib import Path

import ray

import mesascope


@ray.remote(num_cpus=1)
def trial(out: str, settings: dict, audit_levels: int, shift: str) -> dict:
    """Trains one run into `out` and audits it: the numbers of one grid point and seed."""
    trained = mesascope.train(out, settings)
    audit = mesascope.audit(out, levels=audit_levels, probe_levels=0, shift=shift)
    report = audit.report
    return {
        "run": out,
        "settings": settings,
        "train_seconds": trained.seconds,
        "novel_success": report["generalization"]["novel_success"],
        "deployment_success": report["deployment_success"],
        "verdict": audit.verdict["label"],
    }


def sweep(out: Path, base: dict, diversities: list, seeds: list, audit_levels: int, shift: str) -> list[dict]:
    """Every (training-set size, seed) of the grid as one Ray task; the results in grid order."""
    tasks = []
    for diversity in diversities:
        for seed in seeds:
            settings = {**base, "env.diversity": diversity, "seed": seed}
            tasks.append(trial.remote(str(out / f"diversity-{diversity}-seed-{seed}"), settings, audit_levels, shift))
    return ray.get(tasks)


def interval(e: dict) -> str:
    return f"{100 * e['mean']:.1f}% [{100 * e['lo']:.1f}, {100 * e['hi']:.1f}] (n={e['n']})"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--diversity", nargs="+", default=["16", "inf"], help="training-set sizes (env.diversity): whole numbers or inf")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="seeds of each grid point")
    p.add_argument("--total-steps", type=int, default=None, help="environment steps per run (default: the training config's)")
    p.add_argument("--size", type=int, default=9, help="maze side length (odd)")
    p.add_argument("--goal", default="top-right-3", help="cheese placement in training")
    p.add_argument("--audit-levels", type=int, default=200, help="levels per audit measurement")
    p.add_argument("--shift", default="goal-anywhere", help="the deployment shift the audit explains")
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="further training settings, e.g. model.kind=mlp ppo.learning_rate=0.001")
    p.add_argument("--out", default="runs/ray-sweep", help="directory of the runs and sweep.json")
    args = p.parse_args()

    base = {"env.size": args.size, "env.goal": args.goal}
    if args.total_steps is not None:
        base["total_steps"] = args.total_steps
    for item in args.set:
        field, _, text = item.partition("=")
        try:
            base[field] = json.loads(text)  # numbers, true/false, "quoted strings"
        except json.JSONDecodeError:
            base[field] = text  # a bare word: a string
    diversities = [d if d == "inf" else int(d) for d in args.diversity]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    ray.init(address=os.environ.get("RAY_ADDRESS"))
    results = sweep(out, base, diversities, args.seeds, args.audit_levels, args.shift)
    (out / "sweep.json").write_text(json.dumps(results, indent=2))
    print(f"{'run':<32} {'held-out success':>28} {'deployment success':>28}  verdict")
    for r in results:
        print(f"{Path(r['run']).name:<32} {interval(r['novel_success']):>28} {interval(r['deployment_success']):>28}  {r['verdict']}")
    print(f"→ {out / 'sweep.json'}")


if __name__ == "__main__":
    main()
