"""mesascope from Python: the maze tasks as Gymnasium environments (single and batched, over
the Rust task layer) and the audit of any policy, trained in Rust or in Python.

    import gymnasium, mesascope
    env = gymnasium.make("mesascope/Maze-v0", size=9, goal="top-right-3", diversity=64)
    envs = gymnasium.make_vec("mesascope/Maze-v0", num_envs=256, size=9)
    result = mesascope.audit(my_policy, size=9, goal="top-right-3")   # → audit.json, audit.html
    print(result.verdict["label"])
    run = mesascope.train("runs/n16", {"env.diversity": 16})          # PPO in Rust
    weights = mesascope.load_weights("runs/n16")                       # {name: numpy array}
    mesascope.deploy("runs/n16", guards=["ood", "impact"])             # → deploy.json, deploy.html

Importing the package registers ``mesascope/Maze-v0`` with Gymnasium. torch and
Stable-Baselines3 are optional (``mesascope.sb3`` needs them); nothing here imports them.
"""

from __future__ import annotations

from ._native import ACTIONS, CHANNELS, MesascopeError
from ._native import env_config as _env_config
from .audit import AuditResult, audit
from .envs import MazeEnv, MazeVectorEnv, register_envs
from .runs import DeployResult, EventWriter, Model, TrainResult, deploy, load_weights, replay, show, train, vector_field

__all__ = [
    "ACTIONS", "CHANNELS", "AuditResult", "DeployResult", "EventWriter", "MazeEnv", "MazeVectorEnv", "MesascopeError", "Model", "TrainResult",
    "audit", "deploy", "env_config", "load_weights", "register_envs", "replay", "show", "train", "vector_field",
]


def env_config(**env) -> str:
    """The task settings ``env`` gives (every ``[env]`` field with its value), as TOML."""
    return _env_config(env)


register_envs()
