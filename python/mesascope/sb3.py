"""Stable-Baselines3's ``VecEnv`` over the Rust vector env (SB3 does not take Gymnasium
vector envs). Needs ``pip install mesascope[sb3]``; importing ``mesascope`` never imports
this module.

    from stable_baselines3 import PPO
    from mesascope.sb3 import MazeSB3VecEnv
    model = PPO("MlpPolicy", MazeSB3VecEnv(num_envs=32, size=9, goal="top-right-3"))

It steps with same-step auto-reset and gives SB3 what its ``Monitor`` and ``DummyVecEnv``
would: ``terminal_observation``, ``TimeLimit.truncated`` and ``episode`` (``r``, ``l``) in
the info of each env whose episode ended.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from .envs import MazeVectorEnv


class MazeSB3VecEnv(VecEnv):
    """``num_envs`` maze environments for Stable-Baselines3; keyword arguments are
    ``MazeVectorEnv``'s (task settings, ``split``, ``shift``, ``dtype``)."""

    def __init__(self, num_envs: int, render_mode: Optional[str] = None, **kwargs: Any):
        self.env = MazeVectorEnv(num_envs=num_envs, autoreset_mode="same-step", render_mode=render_mode, **kwargs)
        super().__init__(num_envs, self.env.single_observation_space, self.env.single_action_space)
        self.render_mode = render_mode
        self._actions: Optional[np.ndarray] = None

    def reset(self) -> np.ndarray:
        seeds = getattr(self, "_seeds", [None])
        obs, _ = self.env.reset(seed=seeds[0])
        if hasattr(self, "_reset_seeds"):
            self._reset_seeds()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.int64).reshape(-1)

    def step_wait(self):
        obs, rewards, terminated, truncated, infos = self.env.step(self._actions)
        dones = terminated | truncated
        out: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for i in np.flatnonzero(dones):
            out[i] = {
                "terminal_observation": infos["final_obs"][i],
                "TimeLimit.truncated": bool(truncated[i] and not terminated[i]),
                "episode": {"r": float(infos["episode"]["r"][i]), "l": int(infos["episode"]["l"][i])},
                "is_success": bool(infos["final_info"]["success"][i]),
            }
        return obs, rewards, dones, out

    def close(self) -> None:
        self.env.close()

    def get_images(self) -> Sequence[Optional[np.ndarray]]:
        return [self.env._native.rgb(i) for i in range(self.num_envs)]

    def _indices(self, indices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        # Every env shares the vector env's attributes (spaces, render mode).
        return [getattr(self.env, attr_name) for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        raise AttributeError(f"MazeSB3VecEnv's envs have no settable attribute '{attr_name}': they are one Rust vector env")

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        raise AttributeError(f"MazeSB3VecEnv's envs have no method '{method_name}': they are one Rust vector env")

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False for _ in self._indices(indices)]
