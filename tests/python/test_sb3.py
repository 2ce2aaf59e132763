"""The Stable-Baselines3 adapter (opt-in: MESASCOPE_TORCH_TESTS=1): it steps as the Rust env
does and SB3's PPO trains on it and reads its episode statistics."""

import numpy as np
import pytest

from mesascope import _native

pytestmark = pytest.mark.torch

TASK = dict(size=7, goal="top-right-3", horizon=12)


def test_the_sb3_vec_env_steps_as_the_rust_env():
    from mesascope.sb3 import MazeSB3VecEnv

    actions = np.random.default_rng(0).integers(0, 5, size=(200, 8))
    rust = _native.rollout(actions, TASK, seed=4)
    env = MazeSB3VecEnv(num_envs=8, **TASK)
    env.seed(4)
    np.testing.assert_array_equal(env.reset(), rust["obs"][0])
    ends = 0
    for t, a in enumerate(actions):
        obs, rewards, dones, infos = env.step(a)
        np.testing.assert_array_equal(obs, rust["obs"][t + 1])
        np.testing.assert_array_equal(rewards, rust["rewards"][t])
        np.testing.assert_array_equal(dones, rust["terminated"][t] | rust["truncated"][t])
        for i in np.flatnonzero(dones):
            ends += 1
            np.testing.assert_array_equal(infos[i]["terminal_observation"], rust["final_obs"][t, i])
            assert infos[i]["TimeLimit.truncated"] == bool(rust["truncated"][t, i] and not rust["terminated"][t, i])
            assert infos[i]["episode"]["l"] > 0
    assert ends > 50


def test_sb3_ppo_trains_on_it_and_the_result_can_be_audited(tmp_path):
    import torch
    from stable_baselines3 import PPO

    import mesascope
    from mesascope.sb3 import MazeSB3VecEnv

    env = MazeSB3VecEnv(num_envs=8, dtype="float32", **TASK)
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=64, n_epochs=2, seed=0, device="cpu")
    model.learn(total_timesteps=1024)
    assert len(model.ep_info_buffer) > 0, "SB3 read the episodes' returns from the infos"

    def policy(batch):
        with torch.no_grad():
            return model.policy.get_distribution(torch.from_numpy(batch)).distribution.logits.numpy()

    result = mesascope.audit(policy, levels=10, out=tmp_path, **TASK)
    assert result.verdict["label"]
    assert (tmp_path / "audit.json").exists()
