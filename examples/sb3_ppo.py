"""Stable-Baselines3's PPO on mesascope's maze (cheese in the top-right 3×3 in training),
with a small CNN features extractor for 9×9 grids (SB3's CnnPolicy needs images ≥ 36×36);
then its success on held-out mazes and its audit under the goal-anywhere shift.

    pip install '.[sb3]'
    python examples/sb3_ppo.py --total-timesteps 300000
"""

import argparse

import numpy as np
import torch
import torch.nn as nn
from stable_baselines3 import PPO
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

import mesascope
from mesascope.sb3 import MazeSB3VecEnv


class GridCNN(BaseFeaturesExtractor):
    """Two 3×3 convolutions with padding (every tile kept) and a dense layer."""

    def __init__(self, observation_space, features_dim=128):
        super().__init__(observation_space, features_dim)
        c, h, w = observation_space.shape
        self.net = nn.Sequential(
            nn.Conv2d(c, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(32 * h * w, features_dim), nn.ReLU(),
        )

    def forward(self, obs):
        return self.net(obs)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--total-timesteps", type=int, default=300_000, help="environment steps to train for")
    p.add_argument("--size", type=int, default=9, help="maze side length (odd)")
    p.add_argument("--goal", default="top-right-3", help="cheese placement in training")
    p.add_argument("--num-envs", type=int, default=32, help="environments stepped together")
    p.add_argument("--seed", type=int, default=0, help="seed of the environments and the weights")
    p.add_argument("--audit-levels", type=int, default=200, help="levels per audit measurement")
    p.add_argument("--out", default="runs/sb3-ppo", help="directory for the model and the audit")
    args = p.parse_args()
    task = dict(size=args.size, goal=args.goal)
    torch.set_num_threads(1)

    env = MazeSB3VecEnv(num_envs=args.num_envs, dtype="float32", **task)
    env.seed(args.seed)
    model = PPO(
        "CnnPolicy", env, n_steps=64, batch_size=256, n_epochs=4, learning_rate=1e-3, gamma=0.97, ent_coef=0.01, seed=args.seed,
        policy_kwargs=dict(features_extractor_class=GridCNN, normalize_images=False), verbose=1,
    )
    model.learn(total_timesteps=args.total_timesteps)
    model.save(f"{args.out}/model")

    def policy(batch):
        with torch.no_grad():
            dist = model.policy.get_distribution(torch.from_numpy(batch))
        return dist.distribution.logits.numpy()

    # Held-out success: one episode on each of 200 novel levels of the training distribution.
    held_out = MazeSB3VecEnv(num_envs=200, split="held-out", dtype="float32", **task)
    held_out.seed(123)
    obs, outcome = held_out.reset(), np.full(200, -1)
    while (outcome < 0).any():
        actions, _ = model.predict(obs, deterministic=False)
        obs, _, dones, infos = held_out.step(actions)
        for i in np.flatnonzero(dones & (outcome < 0)):
            outcome[i] = infos[i]["is_success"]
    print(f"held-out success {outcome.mean():.3f} over {len(outcome)} novel levels")

    result = mesascope.audit(policy, levels=args.audit_levels, gamma=0.97, name="sb3-ppo", out=args.out, **task)
    print(f"audit verdict: {result.verdict['label']}; deployment success {result.report['deployment_success']['mean']:.3f}; files: {', '.join(map(str, result.files))}")


if __name__ == "__main__":
    main()
