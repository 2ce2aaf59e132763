"""Environment steps per second of the vector env from Python, on one core:
``python -m mesascope.bench [--num-envs 256] [--size 9] [--steps 2000] [--repeats 5]``.

Rows: ``step_into`` with the caller's arrays (no allocation) and Gymnasium's ``step`` in
both auto-reset modes; ``mesascope bench env`` gives the Rust env alone for comparison. Each row gives the median over repeats with the range, and the
number of repeats.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from .envs import MazeVectorEnv


def _rate(run, steps: int, repeats: int) -> tuple[float, float, float]:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        rates.append(steps / (time.perf_counter() - start))
    return float(np.median(rates)), min(rates), max(rates)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--num-envs", type=int, default=256)
    p.add_argument("--size", type=int, default=9)
    p.add_argument("--steps", type=int, default=2000, help="batched steps per repeat")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    m, task = args.num_envs, dict(size=args.size, goal="top-right-3")
    actions = np.random.default_rng(0).integers(0, 5, size=(args.steps, m))
    total = args.steps * m
    rows = []

    for dtype in ("uint8", "float32"):
        envs = MazeVectorEnv(num_envs=m, dtype=dtype, **task)
        obs, _ = envs.reset(seed=0)
        rewards, terminated, truncated = np.empty(m, np.float32), np.empty(m, bool), np.empty(m, bool)

        def loop():
            for a in actions:
                envs.step_into(a, obs, rewards, terminated, truncated)

        rows.append((f"step_into, next-step, {dtype}", _rate(loop, total, args.repeats)))
    for mode in ("next-step", "same-step"):
        envs = MazeVectorEnv(num_envs=m, autoreset_mode=mode, **task)
        envs.reset(seed=0)

        def loop():
            for a in actions:
                envs.step(a)

        rows.append((f"step, {mode}, uint8", _rate(loop, total, args.repeats)))

    print(f"vector env, {args.size}x{args.size} maze, M={m}, {args.steps} batched steps per repeat, median [min, max] of {args.repeats} repeats, one core:")
    for name, (median, lo, hi) in rows:
        print(f"  {name:40s} {median / 1e6:6.2f} M steps/s [{lo / 1e6:.2f}, {hi / 1e6:.2f}]")


if __name__ == "__main__":
    main()
