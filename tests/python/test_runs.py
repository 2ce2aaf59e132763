"""Rust-trained runs from Python: training, weights in numpy, a run's model as a Python
policy (whose audit must equal the run's own), deployment with guards."""

import json

import numpy as np
import pytest

import mesascope
from mesascope import MesascopeError

# A tiny MLP run on 7×7 mazes: a few seconds.
SETTINGS = {
    "total_steps": 4096, "model.kind": "mlp", "model.hidden": 32, "env.size": 7, "env.goal": "top-right-3",
    "ppo.num_envs": 16, "ppo.num_steps": 32, "eval.levels": 20, "eval.every_updates": 0, "checkpoint.every_updates": 0,
}
AUDIT = dict(levels=30, probe_levels=20, seed=3)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "mlp"
    updates = []
    result = mesascope.train(out, SETTINGS, tensorboard=True, progress=updates.append)
    assert result.finished and result.steps == 4096 and result.held_out_success is not None
    assert (out / "model.safetensors").exists() and (out / "metrics.csv").exists()
    assert [p.name.startswith("events.out.tfevents.") for p in result.files].count(True) == 1
    assert any(u["kind"] == "update" for u in updates)
    return out


def test_weights_load_into_numpy_and_compute_the_models_logits(run):
    w = mesascope.load_weights(run)
    assert all(a.dtype == np.float32 for a in w.values())
    envs = mesascope.MazeVectorEnv(num_envs=12, dtype="float32", size=7, goal="top-right-3")
    obs, _ = envs.reset(seed=0)
    relu = lambda x: np.maximum(x, 0)
    x = obs.reshape(len(obs), -1)
    layer = lambda name, x: x @ w[f"{name}.weight"] + w[f"{name}.bias"]
    logits = layer("policy", relu(layer("dense", relu(layer("mlp", x)))))
    np.testing.assert_allclose(mesascope.Model(run)(obs), logits, rtol=1e-4, atol=1e-5)


def test_a_runs_model_as_a_python_policy_gets_the_runs_own_audit(run, tmp_path):
    model = mesascope.Model(run)
    own = mesascope.audit(run, out=tmp_path / "run", **AUDIT)
    assert own.report["probes"] is not None
    # With its named activations and its untrained twin, the policy's audit is the run's own,
    # probes included.
    with_inside = mesascope.audit(lambda obs: model(obs, activations=True), untrained=lambda obs: model.untrained()(obs, activations=True), out=tmp_path / "inside", size=7, goal="top-right-3", **AUDIT)
    assert {k: v for k, v in with_inside.report.items() if k != "subject"} == {k: v for k, v in own.report.items() if k != "subject"}
    assert [layer["name"] for layer in with_inside.report["probes"]["layers"]] == list(model(np.zeros((1, *model.obs_shape), np.float32), activations=True)[1])
    # Actions alone: everything but what looks inside the model.
    as_policy = mesascope.audit(model, out=tmp_path / "policy", size=7, goal="top-right-3", **AUDIT)
    inside = ("subject", "probes", "not_applicable")
    assert {k: v for k, v in as_policy.report.items() if k not in inside} == {k: v for k, v in own.report.items() if k not in inside}
    assert as_policy.report["probes"] is None
    assert as_policy.report["not_applicable"] == {"probes": "the agent has no activations", "thinking time": "the agent is not a learned model"}


def test_a_policy_with_activations_needs_its_untrained_twin(run, tmp_path):
    model = mesascope.Model(run)
    with_inside = lambda obs: model(obs, activations=True)
    with pytest.raises(MesascopeError, match="the probes need their baseline: give untrained="):
        mesascope.audit(with_inside, out=tmp_path, size=7, goal="top-right-3", **AUDIT)
    # Switched off, the probes need no baseline.
    off = mesascope.audit(with_inside, out=tmp_path, size=7, goal="top-right-3", **{**AUDIT, "probe_levels": 0})
    assert off.report["not_applicable"]["probes"] == "switched off (no probe levels asked for)"
    bad = [
        (lambda obs: (model(obs), {"dense": np.zeros((len(obs) + 1, 3))}), r"activation 'dense' has shape \(\d+, 3\); expected \(\d+, features\)"),
        (lambda obs: (model(obs), {"dense": np.full((len(obs), 3), np.inf)}), "activation 'dense' holds a value that is not finite"),
        (lambda obs: (model(obs), {7: np.zeros((len(obs), 3))}), "activation names must be strings"),
    ]
    for policy, message in bad:
        with pytest.raises(MesascopeError, match=message):
            mesascope.audit(policy, untrained=policy, out=tmp_path, size=7, goal="top-right-3", **AUDIT)
    # A twin of another architecture is no baseline.
    narrow = lambda obs: (model(obs), {"dense": model(obs, activations=True)[1]["dense"][:, :3]})
    with pytest.raises(MesascopeError, match="the activations of the untrained twin are"):
        mesascope.audit(with_inside, untrained=narrow, out=tmp_path, size=7, goal="top-right-3", **AUDIT)


def test_deploy_with_guards_writes_its_report(run, tmp_path):
    result = mesascope.deploy(run, shift="goal-anywhere", guards=["impact"], levels=20, out=tmp_path)
    assert sorted(p.name for p in result.files) == ["deploy.html", "deploy.json"]
    assert json.loads((tmp_path / "deploy.json").read_text()) == result.report


def test_a_python_wrapper_of_a_run_gets_the_runs_own_deployment(run, tmp_path):
    model = mesascope.Model(run)
    policy = lambda obs: model(obs, activations=True)
    opts = dict(shift="goal-anywhere", guards=["ood", "impact", "ensemble"], levels=20, seed=2)
    own = mesascope.deploy(run, ensemble=[run], out=tmp_path / "run", **opts)
    stages = []
    python = mesascope.deploy(policy, ensemble=[policy], out=tmp_path / "python", progress=stages.append, size=7, goal="top-right-3", **opts)
    # Every number but the value calibration, which needs value predictions a policy does not make.
    mine = lambda r: {k: v for k, v in r.items() if k not in ("subject", "value_ece")}
    assert mine(python.report) == mine(own.report)
    assert python.report["options"]["layer"] == "dense"
    assert python.report["value_ece"] == [None, None] and all(isinstance(e, float) for e in own.report["value_ece"])
    assert any(s["kind"] == "stage" and s["name"] == "guards: ood + impact + ensemble" for s in stages)
    assert json.loads((tmp_path / "python" / "deploy.json").read_text()) == python.report
    # A run as the ensemble member of a Python policy: the same disagreement as above.
    mixed = mesascope.deploy(policy, ensemble=[run], out=tmp_path / "mixed", size=7, goal="top-right-3", **opts)
    assert mine(mixed.report) == mine(own.report)


def test_a_policy_without_activations_is_deployed_without_the_ood_guard(run, tmp_path):
    model = mesascope.Model(run)
    task = dict(size=7, goal="top-right-3", shift="goal-anywhere", levels=20)
    with pytest.raises(MesascopeError, match="the OOD guard watches one of the agent's named activations, and 'python-policy' names none"):
        mesascope.deploy(model, out=tmp_path, **task)
    impact = mesascope.deploy(model, guards=["impact"], out=tmp_path, **task)
    own = mesascope.deploy(run, guards=["impact"], out=tmp_path / "run", shift="goal-anywhere", levels=20)
    assert impact.report["configs"] == own.report["configs"]
    assert not any(score.startswith("ood") for score in impact.report["auroc"]) and impact.report["options"]["layer"] == ""

    def broken(obs):
        raise RuntimeError("the policy broke")

    with pytest.raises(RuntimeError, match="the policy broke"):
        mesascope.deploy(broken, guards=["impact"], out=tmp_path, **task)
    with pytest.raises(MesascopeError, match=r"invalid policy output: it returned shape \[\d+, 4\]; expected \(\d+, 5\)"):
        mesascope.deploy(lambda obs: np.zeros((len(obs), 4)), guards=["impact"], out=tmp_path, **task)
    with pytest.raises(MesascopeError, match="invalid member 1: it must be callable"):
        mesascope._native.deploy(model, members=[42])
    with pytest.raises(MesascopeError, match="apply to a Python policy only"):
        mesascope.deploy(run, size=7)
    with pytest.raises(MesascopeError, match="invalid agent: give a run's path or a Python policy"):
        mesascope._native.deploy(42)


def test_deploy_keeps_the_command_lines_defaults(run, tmp_path):
    # As `mesascope deploy RUN`: lava on the route (which this lava-free run cannot take), the
    # OOD and impact guards, defer on a veto.
    with pytest.raises(MesascopeError, match="lava-on-route needs a maze trained with lava"):
        mesascope.deploy(run, levels=20, out=tmp_path)
    options = mesascope.deploy(run, shift="goal-anywhere", levels=20, out=tmp_path).report["options"]
    assert (options["guards"], options["on_veto"]) == (["ood", "impact"], "defer")


@pytest.fixture(scope="module")
def recurrent_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "convgru"
    mesascope.train(out, {**SETTINGS, "model.kind": "convgru", "model.channels": 4, "total_steps": 1024})
    return out


def test_a_recurrent_run_steps_with_its_state_and_is_deployed_and_audited_as_the_run_is(recurrent_run, run, tmp_path):
    model = mesascope.Model(recurrent_run)
    assert model.recurrent and not mesascope.Model(run).recurrent
    obs = np.zeros((3, *model.obs_shape), np.float32)
    state = model.initial_state(3)
    assert state.shape == (3, 4, 7, 7) and not state.any()
    logits, next_state, named = model(obs, state, activations=True)
    assert logits.shape == (3, 5) and next_state.shape == state.shape and next_state.any()
    assert "gru.hidden" in named and all(a.shape[0] == 3 for a in named.values())
    with pytest.raises(MesascopeError, match=r"missing state: the model is recurrent; call model\(obs, state\)"):
        model(obs)
    with pytest.raises(MesascopeError, match=r"invalid state: shape \[2, 4, 7, 7\]"):
        model(obs, model.initial_state(2))
    with pytest.raises(MesascopeError, match="invalid state: the model is not recurrent"):
        mesascope.Model(run)(np.zeros((3, 8, 7, 7), np.float32), state)
    with pytest.raises(MesascopeError, match="the model is not recurrent: it has no state"):
        mesascope.Model(run).initial_state(1)
    # Against the Rust rollout: the chain carries the Python wrapper's state through each
    # episode as it carries the run's own, and every number but the value calibration agrees.
    opts = dict(shift="goal-anywhere", guards=["ood", "impact"], levels=20, seed=1)
    own = mesascope.deploy(recurrent_run, out=tmp_path / "run", **opts)
    wrapper = lambda obs, state: model(obs, state, activations=True)
    python = mesascope.deploy(wrapper, initial_state=model.initial_state, layer="gru.hidden", out=tmp_path / "python", size=7, goal="top-right-3", **opts)
    mine = lambda r: {k: v for k, v in r.items() if k not in ("subject", "value_ece")}
    assert mine(python.report) == mine(own.report)
    # The audit likewise, but for what only the run's own rollouts give: thinking time (its
    # ticks varied) and the recurrent probes (on states of its rollouts, replayed in Rust).
    own_audit = mesascope.audit(recurrent_run, out=tmp_path / "run-audit", **AUDIT)
    python_audit = mesascope.audit(wrapper, initial_state=model.initial_state, out=tmp_path / "python-audit", size=7, goal="top-right-3", **AUDIT)
    looks_inside = ("subject", "thinking_time", "probes", "not_applicable")
    assert {k: v for k, v in python_audit.report.items() if k not in looks_inside} == {k: v for k, v in own_audit.report.items() if k not in looks_inside}
    assert own_audit.report["thinking_time"] is not None and own_audit.report["probes"] is not None
    assert python_audit.report["not_applicable"] == {
        "thinking time": "a Python policy's internal ticks per step cannot be varied",
        "probes": "a recurrent model is probed on the states of its own rollouts, which the audit replays for Rust models only",
    }
    # A wrapper that forgets its state between steps is another agent.
    forgetful = lambda obs, state: (model(obs, model.initial_state(len(obs)))[0], state)
    other = mesascope.deploy(forgetful, initial_state=model.initial_state, out=tmp_path / "forgetful", size=7, goal="top-right-3", **{**opts, "guards": ["impact"]})
    assert other.report["configs"][0] != own.report["configs"][0]
    with pytest.raises(MesascopeError, match=r"initial_state\(1\) must be zeros"):
        mesascope.deploy(wrapper, initial_state=lambda n: np.ones((n, 4)), guards=["impact"], out=tmp_path, size=7, goal="top-right-3", levels=20)
    with pytest.raises(MesascopeError, match=r"a recurrent policy returns \(actions, next state\)"):
        mesascope.deploy(lambda obs, state: model(obs, state)[0], initial_state=model.initial_state, guards=["impact"], out=tmp_path, size=7, goal="top-right-3", levels=20)


def test_bad_run_arguments_raise_the_rust_error(run, tmp_path):
    with pytest.raises(MesascopeError, match="holds no model.safetensors and no checkpoint"):
        mesascope.Model(tmp_path)
    with pytest.raises(MesascopeError, match="holds no model.safetensors"):
        mesascope.load_weights(tmp_path)
    with pytest.raises(MesascopeError, match="ppo.learning_rat"):
        mesascope.train(tmp_path / "r", {"ppo.learning_rat": 0.1})
    with pytest.raises(MesascopeError, match="unknown on_veto 'explode'"):
        mesascope.deploy(run, on_veto="explode", out=tmp_path)
    with pytest.raises(MesascopeError, match=r"invalid obs: shape \[2, 8, 9, 9\]; the model takes \[n, 8, 7, 7\]"):
        mesascope.Model(run)(np.zeros((2, 8, 9, 9), np.float32))


def test_a_python_loop_writes_event_files_and_bad_values_are_refused(tmp_path):
    writer = mesascope.EventWriter(tmp_path / "tb")
    writer.scalars(10, {"charts/SPS": 1.0})
    assert str(writer.path).startswith(str(tmp_path / "tb" / "events.out.tfevents."))
    assert b"charts/SPS" in open(writer.path, "rb").read()
    with pytest.raises(TypeError):
        writer.scalars(11, {"charts/SPS": "fast"})


def test_an_episode_replays_by_its_level_id_and_the_vector_field_is_drawn(run, tmp_path):
    env = mesascope.MazeEnv(size=7, goal="top-right-3", split="deployment", shift="goal-anywhere")
    env.reset(seed=1)
    level = tmp_path / "level.json"
    level.write_text(env.level_json())
    once = mesascope.replay(run, level, seed=5)
    assert once["level_id"] == env.level_id and once["seed"] == 5 and len(once["episode"]["actions"]) == once["episode"]["length"]
    # The replay's own file plays the same episode again (its seed travels with it).
    saved = tmp_path / "episode.json"
    saved.write_text(json.dumps(once))
    assert mesascope.replay(run, saved)["episode"] == once["episode"]
    field = mesascope.vector_field(run, tmp_path / "field.svg", level=level)
    assert field["level_id"] == env.level_id and len(field["agent"]["cells"]) == len(field["planner"]["cells"]) > 0
    assert all(abs(sum(p) - 1) < 1e-9 for p in field["agent"]["probs"])
    svg = (tmp_path / "field.svg").read_text()
    assert svg.startswith("<svg") and svg.count('class="arrow"') == 3 * len(field["agent"]["cells"])
    video = mesascope.show(run, tmp_path / "episodes.gif", levels=1)
    assert (tmp_path / "episodes.gif").read_bytes()[:6] == b"GIF89a" and len(video["episodes"]) == 3
    assert video["frames"] == 1 + max(e["episode"]["length"] for e in video["episodes"])
    with pytest.raises(MesascopeError, match="not a level id"):
        mesascope.replay(run, "nowhere")
    with pytest.raises(MesascopeError, match="unknown shift"):
        mesascope.vector_field(run, tmp_path / "f.svg", shift="sideways")
