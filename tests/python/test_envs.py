"""The Gymnasium environments: the API checker, equality with the Rust env step for step,
both auto-reset modes, the zero-allocation step, splits and their disjointness, and errors."""

import numpy as np
import pytest
import gymnasium as gym
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import mesascope
from mesascope import MesascopeError, _native

# Every task family with settings that exercise its options.
FAMILIES = [
    dict(size=9, goal="top-right-3", diversity=16),
    dict(size=7, goal="anywhere", start="anywhere", obs="partial-5"),
    dict(size=9, lava="off-route-2", loops=4, horizon=30),
]


@pytest.mark.parametrize("env_kwargs", FAMILIES)
@pytest.mark.parametrize("render_mode", ["ansi", "rgb_array"])
def test_check_env_passes_for_every_family(env_kwargs, render_mode):
    env = gym.make("mesascope/Maze-v0", render_mode=render_mode, **env_kwargs)
    check_env(env.unwrapped)
    env.reset(seed=3)
    frame = env.render()
    if render_mode == "ansi":
        assert "@" in frame and frame.count("\n") == env_kwargs["size"]
    else:
        assert frame.dtype == np.uint8 and frame.shape == (24 * env_kwargs["size"], 24 * env_kwargs["size"], 3)


@pytest.mark.parametrize("family, version, help", _native.FAMILIES)
def test_every_registered_family_has_its_own_gymnasium_id(family, version, help):
    env_id = mesascope.envs.gym_id(family, version)
    assert env_id in gym.registry and gym.registry[env_id].kwargs == {"family": family} and help
    env = gym.make(env_id)
    check_env(env.unwrapped)
    envs = gym.make_vec(env_id, num_envs=2)
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (2, *env.observation_space.shape)
    # Its defaults are the family's own, as `mesascope train` starts from them.
    assert f'family = "{family}"' in mesascope.env_config(family=family)
    with pytest.raises(ValueError, match="env.not_a_parameter.: unknown field"):
        gym.make(env_id, not_a_parameter=1)
    assert mesascope.envs.gym_id("keys-chests", "keys-chests-v2") == "mesascope/KeysChests-v2"


def test_check_env_passes_for_float_observations_and_deployment_levels():
    check_env(gym.make("mesascope/Maze-v0", dtype="float32", split="deployment", shift="goal-anywhere", size=9, goal="top-right-3").unwrapped)


def test_an_episode_reaches_the_cheese_by_the_shortest_path():
    env = gym.make("mesascope/Maze-v0", render_mode="ansi", size=7, goal="top-right-1")
    obs, info = env.reset(seed=0)
    level_id = env.unwrapped.level_id
    assert obs.shape == (8, 7, 7) and info == {"level_id": level_id} and len(level_id) == 16
    path = shortest_path_actions(obs)
    for k, a in enumerate(path):
        obs, reward, terminated, truncated, info = env.step(a)
        assert truncated is False and terminated is (k == len(path) - 1)
    assert info == {"success": True, "catastrophe": False, "level_id": level_id}
    assert reward == pytest.approx(0.99)


def shortest_path_actions(obs):
    """The planner's moves from the observation: BFS from the cheese over non-wall tiles."""
    dist = distance_to_cheese(obs)
    y, x = np.argwhere(obs[2])[0]
    actions = []
    while dist[y, x] > 0:
        a, (y, x) = min(((a, (y + dy, x + dx)) for a, (dy, dx) in enumerate(MOVES)), key=lambda m: dist[m[1]])
        actions.append(a)
    return actions


MOVES = [(-1, 0), (1, 0), (0, -1), (0, 1)]  # up, down, left, right (action order)


def distance_to_cheese(obs):
    walls = obs[0].astype(bool)
    h, w = walls.shape
    dist = np.full((h, w), np.iinfo(np.int32).max, dtype=np.int64)
    frontier = [tuple(np.argwhere(obs[3])[0])]
    dist[frontier[0]] = 0
    while frontier:
        nxt = []
        for y, x in frontier:
            for dy, dx in MOVES:
                v = (y + dy, x + dx)
                if 0 <= v[0] < h and 0 <= v[1] < w and not walls[v] and dist[v] > dist[y, x] + 1:
                    dist[v] = dist[y, x] + 1
                    nxt.append(v)
        frontier = nxt
    return dist


def random_actions(steps, num_envs, seed):
    return np.random.default_rng(seed).integers(0, 5, size=(steps, num_envs))


# Short horizons so that many episodes end (by time and by the cheese) within the test.
TASK = dict(size=7, goal="top-right-3", horizon=12)


def test_same_step_vector_env_equals_the_rust_env_step_for_step():
    actions = random_actions(300, 16, seed=1)
    rust = _native.rollout(actions, TASK, seed=5)
    envs = gym.make_vec("mesascope/Maze-v0", num_envs=16, autoreset_mode=AutoresetMode.SAME_STEP, **TASK)
    assert isinstance(envs.unwrapped, mesascope.MazeVectorEnv)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    obs, _ = envs.reset(seed=5)
    np.testing.assert_array_equal(obs, rust["obs"][0])
    ended_episodes = 0
    for t in range(len(actions)):
        obs, rewards, terminated, truncated, infos = envs.step(actions[t])
        np.testing.assert_array_equal(obs, rust["obs"][t + 1])
        np.testing.assert_array_equal(rewards, rust["rewards"][t])
        np.testing.assert_array_equal(terminated, rust["terminated"][t])
        np.testing.assert_array_equal(truncated, rust["truncated"][t])
        ended = terminated | truncated
        if ended.any():
            ended_episodes += ended.sum()
            np.testing.assert_array_equal(infos["_final_obs"], ended)
            for i in np.flatnonzero(ended):
                np.testing.assert_array_equal(infos["final_obs"][i], rust["final_obs"][t, i])
            assert all(infos["final_obs"][i] is None for i in np.flatnonzero(~ended))
            np.testing.assert_array_equal(infos["episode"]["l"][ended] > 0, True)
        else:
            assert infos == {}
    assert ended_episodes > 100 and rust["terminated"].any() and rust["truncated"].any()


def test_next_step_vector_env_equals_the_rust_env_with_the_reset_step_inserted():
    """Next-step auto-reset: on the step an episode ends the env shows its last observation;
    on the next it shows the new episode's first observation with reward 0 and ignores the
    action. Each env is independent, so env i must replay the Rust env's env i on the actions
    it did not ignore."""
    steps, m = 300, 8
    actions = random_actions(steps, m, seed=2)
    envs = gym.make_vec("mesascope/Maze-v0", num_envs=m, **TASK)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, _ = envs.reset(seed=9)
    trace = [(obs, None, None, None)]
    for t in range(steps):
        obs, rewards, terminated, truncated, _ = envs.step(actions[t])
        trace.append((obs, rewards, terminated, truncated))
    # Env i's actions that the env used: all but those on the step after an end.
    used = [[] for _ in range(m)]
    skipped = np.zeros((steps, m), dtype=bool)
    for t in range(steps):
        for i in range(m):
            if t > 0 and (trace[t][2][i] or trace[t][3][i]):
                skipped[t, i] = True
            else:
                used[i].append(actions[t, i])
    longest = max(len(u) for u in used)
    replay = np.full((longest, m), 4)
    for i, u in enumerate(used):
        replay[: len(u), i] = u
    rust = _native.rollout(replay, TASK, seed=9)
    for i in range(m):
        k = 0  # Rust steps env i has taken
        for t in range(steps):
            obs, rewards, terminated, truncated = trace[t + 1]
            if skipped[t, i]:
                # The reset step: the Rust env already shows the next episode after step k.
                np.testing.assert_array_equal(obs[i], rust["obs"][k, i])
                assert rewards[i] == 0 and not terminated[i] and not truncated[i]
                continue
            assert rewards[i] == rust["rewards"][k, i]
            assert terminated[i] == rust["terminated"][k, i] and truncated[i] == rust["truncated"][k, i]
            expected = rust["final_obs"][k, i] if terminated[i] or truncated[i] else rust["obs"][k + 1, i]
            np.testing.assert_array_equal(obs[i], expected)
            k += 1
    assert skipped.sum() > 50


def test_the_single_env_plays_env_zero_of_the_vector_env():
    env = gym.make("mesascope/Maze-v0", **TASK)
    envs = mesascope.MazeVectorEnv(num_envs=3, **TASK)
    obs, _ = env.reset(seed=11)
    vobs, _ = envs.reset(seed=11)
    np.testing.assert_array_equal(obs, vobs[0])
    for a in random_actions(200, 3, seed=4):
        obs, r, term, trunc, _ = env.step(a[0])
        vobs, vr, vterm, vtrunc, _ = envs.step(a)
        np.testing.assert_array_equal(obs, vobs[0])
        assert (r, term, trunc) == (pytest.approx(vr[0]), vterm[0], vtrunc[0])
        if term or trunc:
            obs, _ = env.reset()
            vobs, *_ = envs.step(a)  # next-step mode: the vector env's reset step
            np.testing.assert_array_equal(obs, vobs[0])


def test_step_into_writes_into_the_callers_arrays():
    envs = mesascope.MazeVectorEnv(num_envs=32, dtype="float32", autoreset_mode="same-step", **TASK)
    twin = mesascope.MazeVectorEnv(num_envs=32, dtype="float32", autoreset_mode="same-step", **TASK)
    envs.reset(seed=1)
    twin.reset(seed=1)
    obs = np.empty((32, 8, 7, 7), dtype=np.float32)
    rewards = np.empty(32, dtype=np.float32)
    terminated, truncated = np.empty(32, dtype=bool), np.empty(32, dtype=bool)
    buffers = [a.__array_interface__["data"][0] for a in (obs, rewards, terminated, truncated)]
    for a in random_actions(50, 32, seed=3):
        infos = envs.step_into(a, obs, rewards, terminated, truncated)
        o, r, te, tr, twin_infos = twin.step(a)
        np.testing.assert_array_equal(obs, o)
        np.testing.assert_array_equal(rewards, r)
        np.testing.assert_array_equal(terminated, te)
        np.testing.assert_array_equal(truncated, tr)
        assert sorted(infos) == sorted(twin_infos)
    assert buffers == [a.__array_interface__["data"][0] for a in (obs, rewards, terminated, truncated)]
    with pytest.raises(MesascopeError, match=r"invalid obs: .*float32 and shape \[32, 8, 7, 7\]"):
        envs.step_into(np.zeros(32, dtype=np.int64), obs.astype(np.uint8), rewards, terminated, truncated)


def fingerprints(envs, steps, seed):
    envs.reset(seed=seed)
    seen = set(envs.level_fingerprints().tolist())
    for a in random_actions(steps, envs.num_envs, seed):
        envs.step(a)
        seen |= set(envs.level_fingerprints().tolist())
    return seen


@pytest.mark.parametrize("diversity", [32, "inf"])
def test_training_levels_never_appear_in_held_out_or_deployment_splits(diversity):
    task = dict(size=7, goal="top-right-3", diversity=diversity, horizon=8)
    train = fingerprints(mesascope.MazeVectorEnv(num_envs=64, **task), 200, seed=1)
    held_out = fingerprints(mesascope.MazeVectorEnv(num_envs=64, split="held-out", **task), 200, seed=2)
    deployment = fingerprints(mesascope.MazeVectorEnv(num_envs=64, split="deployment", shift="goal-anywhere", **task), 200, seed=3)
    if diversity == 32:
        assert len(train) == 32
    assert len(held_out) > 100 and len(deployment) > 100
    assert not train & held_out and not train & deployment
    assert all(f >> 63 == 0 for f in train) and all(f >> 63 == 1 for f in held_out | deployment)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(size=8), "env.size': maze size 8 must be odd and between 5 and 51"),
        (dict(goal="top-right-99"), "env.goal': goal region k=99 must be between 1 and the maze interior (7) for size 9"),
        (dict(diversity=0), "invalid diversity: N=0; it must be a whole number ≥ 1, or 'inf'"),
        (dict(obs="partial-4"), "partial view 4 must be odd"),
        (dict(wobble=1), "wobble"),
        (dict(split="validation"), "unknown split 'validation' (known: train, held-out, deployment)"),
        (dict(split="deployment", shift="sideways"), "unknown shift 'sideways' (known: none, goal-anywhere, lava-on-route, keys-plentiful, coin-anywhere, no-monsters, long-episode)"),
        (dict(split="train", shift="goal-anywhere"), "invalid shift: split 'train' has no shift"),
        (dict(dtype="float64"), "unknown dtype 'float64' (known: uint8, float32)"),
    ],
)
def test_bad_arguments_raise_the_rust_error(kwargs, message):
    for make in (lambda: gym.make("mesascope/Maze-v0", **kwargs), lambda: gym.make_vec("mesascope/Maze-v0", num_envs=2, **kwargs)):
        with pytest.raises(MesascopeError) as e:
            make()
        assert message in str(e.value)
        assert isinstance(e.value, ValueError)


def test_bad_calls_raise_instead_of_crashing():
    env = gym.make("mesascope/Maze-v0").unwrapped
    with pytest.raises(MesascopeError, match="call reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(MesascopeError, match=r"invalid actions: action 7 of env 0 is not in 0..5"):
        env.step(7)
    envs = gym.make_vec("mesascope/Maze-v0", num_envs=3)
    envs.reset(seed=0)
    with pytest.raises(MesascopeError, match="got 2 actions for 3 envs"):
        envs.step(np.array([0, 1]))
    with pytest.raises(MesascopeError, match="action -1 of env 2"):
        envs.step(np.array([0, 1, -1]))
    with pytest.raises(MesascopeError, match="invalid num_envs"):
        gym.make_vec("mesascope/Maze-v0", num_envs=0)
    with pytest.raises(MesascopeError, match="one int"):
        envs.reset(seed=[1, 2, 3])
    with pytest.raises(TypeError, match="option 'env.size' must be a bool, int, float or str, not list"):
        gym.make("mesascope/Maze-v0", size=[9])


def test_the_cli_names_the_same_problem_as_python(tmp_path):
    """Python's message is the Rust error the command line prints."""
    import os
    import subprocess

    cli = os.environ.get("MESASCOPE_CLI")
    if not cli or not os.path.exists(cli):
        pytest.skip("MESASCOPE_CLI (the built mesascope binary) is not set; scripts/test-python sets it")
    done = subprocess.run([cli, "train", "--set", "env.size=8", "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert done.returncode != 0
    with pytest.raises(MesascopeError) as e:
        gym.make("mesascope/Maze-v0", size=8)
    assert str(e.value) in done.stderr


def test_a_level_is_played_again_by_its_id_or_its_file_and_bad_levels_are_named(tmp_path):
    train = gym.make("mesascope/Maze-v0", size=7, goal="top-right-1", diversity=4).unwrapped
    first, info = train.reset(seed=2)
    level_id = info["level_id"]
    for _ in range(6):
        train.reset()
    again, info = train.reset(options={"level": level_id})
    assert info["level_id"] == level_id and np.array_equal(again, first)
    # A deployment env draws fresh levels: a level comes back through its file.
    deploy = gym.make("mesascope/Maze-v0", size=7, goal="top-right-1", split="deployment", shift="goal-anywhere").unwrapped
    first, info = deploy.reset(seed=4)
    path = tmp_path / "level.json"
    path.write_text(deploy.level_json())
    deploy.reset()
    again, again_info = deploy.reset(options={"level": path})
    assert again_info == info and np.array_equal(again, first)
    with pytest.raises(MesascopeError, match="not a level id"):
        deploy.reset(options={"level": "not-an-id"})
    with pytest.raises(MesascopeError, match="no finite pool"):
        deploy.reset(options={"level": level_id})
    with pytest.raises(MesascopeError, match="not among this env's 4 training levels"):
        train.reset(options={"level": "0123456789abcdef"})
    bad = tmp_path / "bad.json"
    bad.write_text('{"tiles": [], "width": 2}')
    with pytest.raises(MesascopeError, match="bad.json"):
        deploy.reset(options={"level": bad})
    with pytest.raises(MesascopeError, match="unknown reset options"):
        deploy.reset(options={"seed": 1})
