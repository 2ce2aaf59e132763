"""A single-file PyTorch PPO (CleanRL's ppo.py, adapted) on mesascope's vector env, then the
agent's held-out success and its audit under the goal-anywhere shift.

    pip install '.[torch]'
    python examples/cleanrl_ppo.py --total-timesteps 500000

The vector env uses same-step auto-reset (the observation after an episode ends is the next
episode's first), which is what CleanRL's rollout loop assumes. Scalars go to a TensorBoard
event file in --out under CleanRL's names (`tensorboard --logdir runs`), written by mesascope's
own writer, so TensorBoard need not be installed to train.
"""

import argparse
import time

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
from torch.distributions.categorical import Categorical

import mesascope
from gymnasium.vector import AutoresetMode


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=1, help="seed of the environments, the weights and the actions")
    p.add_argument("--size", type=int, default=9, help="maze side length (odd)")
    p.add_argument("--goal", default="top-right-3", help="cheese placement in training")
    p.add_argument("--total-timesteps", type=int, default=500_000, help="environment steps to train for")
    p.add_argument("--learning-rate", type=float, default=2.5e-4 * 4, help="Adam step size at the start (annealed to 0)")
    p.add_argument("--num-envs", type=int, default=32, help="environments stepped together")
    p.add_argument("--num-steps", type=int, default=64, help="steps per environment per rollout")
    p.add_argument("--gamma", type=float, default=0.97, help="discount factor")
    p.add_argument("--gae-lambda", type=float, default=0.95, help="GAE lambda")
    p.add_argument("--num-minibatches", type=int, default=8, help="minibatches per epoch")
    p.add_argument("--update-epochs", type=int, default=4, help="passes over each rollout")
    p.add_argument("--clip-coef", type=float, default=0.2, help="PPO ratio clipping")
    p.add_argument("--ent-coef", type=float, default=0.01, help="entropy bonus weight")
    p.add_argument("--vf-coef", type=float, default=0.5, help="value loss weight")
    p.add_argument("--max-grad-norm", type=float, default=0.5, help="gradient norm clipping")
    p.add_argument("--audit-levels", type=int, default=200, help="levels per audit measurement")
    p.add_argument("--out", default="runs/cleanrl-ppo", help="directory for the event file and the audit")
    return p.parse_args()


def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    """A small CNN for C×9×9 one-hot grids (no pooling: every tile matters)."""

    def __init__(self, obs_shape):
        super().__init__()
        c, h, w = obs_shape
        self.body = nn.Sequential(
            layer_init(nn.Conv2d(c, 16, 3, padding=1)), nn.ReLU(),
            layer_init(nn.Conv2d(16, 32, 3, padding=1)), nn.ReLU(),
            nn.Flatten(), layer_init(nn.Linear(32 * h * w, 128)), nn.ReLU(),
        )
        self.actor = layer_init(nn.Linear(128, 5), std=0.01)
        self.critic = layer_init(nn.Linear(128, 1), std=1.0)

    def get_value(self, x):
        return self.critic(self.body(x))

    def get_action_and_value(self, x, action=None):
        hidden = self.body(x)
        probs = Categorical(logits=self.actor(hidden))
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action), probs.entropy(), self.critic(hidden)


def held_out_success(agent, size, goal, episodes=200, seed=123):
    """Success on novel (held-out) levels of the training distribution, sampled actions."""
    envs = mesascope.MazeVectorEnv(num_envs=episodes, split="held-out", dtype="float32", autoreset_mode="same-step", size=size, goal=goal)
    obs, _ = envs.reset(seed=seed)
    outcome = np.full(episodes, -1)
    while (outcome < 0).any():
        with torch.no_grad():
            action, *_ = agent.get_action_and_value(torch.from_numpy(obs))
        obs, _, terminated, truncated, infos = envs.step(action.numpy())
        ended = (terminated | truncated) & (outcome < 0)
        if ended.any():
            outcome[ended] = infos["final_info"]["success"][ended]
    return outcome.mean(), episodes


if __name__ == "__main__":
    args = parse_args()
    batch_size = args.num_envs * args.num_steps
    minibatch_size = batch_size // args.num_minibatches
    num_iterations = args.total_timesteps // batch_size
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)

    envs = gym.make_vec("mesascope/Maze-v0", num_envs=args.num_envs, autoreset_mode=AutoresetMode.SAME_STEP, dtype="float32", size=args.size, goal=args.goal)
    obs_shape = envs.single_observation_space.shape
    agent = Agent(obs_shape)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)

    obs = torch.zeros((args.num_steps, args.num_envs) + obs_shape)
    actions = torch.zeros((args.num_steps, args.num_envs), dtype=torch.long)
    logprobs = torch.zeros((args.num_steps, args.num_envs))
    rewards = torch.zeros((args.num_steps, args.num_envs))
    dones = torch.zeros((args.num_steps, args.num_envs))
    values = torch.zeros((args.num_steps, args.num_envs))

    writer = mesascope.EventWriter(args.out)
    global_step, start_time = 0, time.time()
    next_obs, _ = envs.reset(seed=args.seed)
    next_obs, next_done = torch.from_numpy(next_obs), torch.zeros(args.num_envs)
    returns_seen = []
    for iteration in range(1, num_iterations + 1):
        optimizer.param_groups[0]["lr"] = (1.0 - (iteration - 1.0) / num_iterations) * args.learning_rate
        for step in range(args.num_steps):
            global_step += args.num_envs
            obs[step], dones[step] = next_obs, next_done
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
            values[step], actions[step], logprobs[step] = value.flatten(), action, logprob
            next_obs, reward, terminations, truncations, infos = envs.step(action.numpy())
            rewards[step] = torch.from_numpy(reward)
            next_obs, next_done = torch.from_numpy(next_obs), torch.from_numpy((terminations | truncations).astype(np.float32))
            if "episode" in infos:
                returns_seen.extend(infos["episode"]["r"][infos["_episode"]].tolist())

        with torch.no_grad():
            next_value = agent.get_value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards)
            lastgaelam = 0
            for t in reversed(range(args.num_steps)):
                nextnonterminal = 1.0 - (next_done if t == args.num_steps - 1 else dones[t + 1])
                nextvalues = next_value if t == args.num_steps - 1 else values[t + 1]
                delta = rewards[t] + args.gamma * nextvalues * nextnonterminal - values[t]
                advantages[t] = lastgaelam = delta + args.gamma * args.gae_lambda * nextnonterminal * lastgaelam
            returns = advantages + values

        b_obs, b_logprobs, b_actions = obs.reshape((-1,) + obs_shape), logprobs.reshape(-1), actions.reshape(-1)
        b_advantages, b_returns, b_values = advantages.reshape(-1), returns.reshape(-1), values.reshape(-1)
        b_inds = np.arange(batch_size)
        clipfracs, approx_kls = [], []
        for epoch in range(args.update_epochs):
            np.random.shuffle(b_inds)
            for start in range(0, batch_size, minibatch_size):
                mb = b_inds[start : start + minibatch_size]
                _, newlogprob, entropy, newvalue = agent.get_action_and_value(b_obs[mb], b_actions[mb])
                logratio = newlogprob - b_logprobs[mb]
                ratio = logratio.exp()
                with torch.no_grad():
                    approx_kls.append(((ratio - 1) - logratio).mean().item())
                    clipfracs.append(((ratio - 1.0).abs() > args.clip_coef).float().mean().item())
                mb_adv = (b_advantages[mb] - b_advantages[mb].mean()) / (b_advantages[mb].std() + 1e-8)
                pg_loss = torch.max(-mb_adv * ratio, -mb_adv * torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef)).mean()
                v_loss = 0.5 * ((newvalue.view(-1) - b_returns[mb]) ** 2).mean()
                loss = pg_loss - args.ent_coef * entropy.mean() + v_loss * args.vf_coef
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()

        recent = returns_seen[-200:]
        sps = int(global_step / (time.time() - start_time))
        writer.scalars(global_step, {
            "charts/episodic_return": np.mean(recent) if recent else float("nan"), "charts/learning_rate": optimizer.param_groups[0]["lr"],
            "charts/SPS": sps, "losses/value_loss": v_loss.item(), "losses/policy_loss": pg_loss.item(), "losses/entropy": entropy.mean().item(),
            "losses/approx_kl": float(np.mean(approx_kls)), "losses/clipfrac": float(np.mean(clipfracs)),
        })
        if iteration % 10 == 0 or iteration == num_iterations:
            print(f"step {global_step}  return {np.mean(recent) if recent else float('nan'):.3f} over {len(recent)} episodes  SPS {sps}", flush=True)

    success, n = held_out_success(agent, args.size, args.goal)
    print(f"held-out success {success:.3f} over {n} novel levels")

    def policy(batch):
        with torch.no_grad():
            return agent.actor(agent.body(torch.from_numpy(batch))).numpy()

    result = mesascope.audit(policy, size=args.size, goal=args.goal, levels=args.audit_levels, gamma=args.gamma, name="cleanrl-ppo", out=args.out)
    print(f"audit verdict: {result.verdict['label']}; files: {', '.join(map(str, result.files))}")
