//! Proximal Policy Optimization (Schulman et al. 2017), read top to bottom as in CleanRL:
//! collect a rollout from the batched env, compute GAE advantages, then several epochs of
//! minibatch updates of the clipped objective with a (clipped) value loss and an entropy bonus.
//! Recurrent models are trained with truncated backprop-through-time over sequences of
//! `bptt_len` steps that start from the hidden states stored during the rollout.
//!
//! Episodes that end by truncation (the level's horizon) are not terminations: their reward on
//! the last step is increased by `γ·V(final observation)`, the value of where they were cut off,
//! as Stable-Baselines3 does, so the agent is not taught that running out of time is an end
//! state (which CleanRL's `ppo.py` does treat it as).
//!
//! Gradients are clipped to a global L2 norm over all parameters, as
//! `torch.nn.utils.clip_grad_norm_` does in CleanRL, which keeps the update's direction; burn's
//! built-in clipping works per tensor, which changes the direction and lets the total norm grow
//! with the number of tensors.

use std::time::Instant;

use burn::module::{ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use mesascope_tasks::dist::mix_seed;
use mesascope_tasks::{Action, VecEnv};

use crate::config::TrainConfig;
use crate::error::LearnError;
use crate::model::{ActorCritic, ModelConfig};

/// PPO hyper-parameters; `configs/train-default.toml` gives each one's default and help.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PpoConfig {
    /// Environments stepped in parallel.
    pub num_envs: usize,
    /// Steps per environment per rollout.
    pub num_steps: usize,
    /// Adam step size at the start.
    pub learning_rate: f64,
    /// Decay the learning rate linearly to 0.
    pub anneal_lr: bool,
    /// Discount factor.
    pub gamma: f64,
    /// GAE λ.
    pub gae_lambda: f64,
    /// Minibatches per epoch.
    pub num_minibatches: usize,
    /// Passes over each rollout.
    pub update_epochs: usize,
    /// Normalise advantages within each minibatch.
    pub norm_adv: bool,
    /// Ratio clipping ε.
    pub clip_coef: f64,
    /// Clip the value loss too.
    pub clip_vloss: bool,
    /// Entropy bonus weight.
    pub ent_coef: f64,
    /// Value loss weight.
    pub vf_coef: f64,
    /// Clip the global L2 norm of the gradient (over all parameters) to this.
    pub max_grad_norm: f64,
    /// Truncated BPTT length (recurrent models).
    pub bptt_len: usize,
}

impl PpoConfig {
    /// Checks every value, naming the first impossible one.
    pub fn validate(&self) -> Result<(), LearnError> {
        let positive = [
            ("ppo.num_envs", self.num_envs),
            ("ppo.num_steps", self.num_steps),
            ("ppo.num_minibatches", self.num_minibatches),
            ("ppo.update_epochs", self.update_epochs),
            ("ppo.bptt_len", self.bptt_len),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(LearnError::config(name, "must be at least 1"));
            }
        }
        if self.num_envs * self.num_steps < self.num_minibatches {
            return Err(LearnError::config("ppo.num_minibatches", "is larger than the batch (num_envs × num_steps)"));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(LearnError::config("ppo.learning_rate", "must be a positive number"));
        }
        for (name, v) in [("ppo.gamma", self.gamma), ("ppo.gae_lambda", self.gae_lambda)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(LearnError::config(name, "must be in [0, 1]"));
            }
        }
        for (name, v) in [("ppo.clip_coef", self.clip_coef), ("ppo.ent_coef", self.ent_coef), ("ppo.vf_coef", self.vf_coef), ("ppo.max_grad_norm", self.max_grad_norm)] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(LearnError::config(name, "must be a finite number ≥ 0"));
            }
        }
        Ok(())
    }
}

/// What one update measured; one row of `metrics.csv`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateMetrics {
    /// Update number, from 1.
    pub update: usize,
    /// Environment steps so far.
    pub step: u64,
    /// Mean return of the episodes that ended in this rollout (NaN if none).
    pub episode_return: f64,
    /// Fraction of those episodes that reached the goal.
    pub success_rate: f64,
    /// Episodes that ended in this rollout.
    pub episodes: usize,
    /// Mean clipped policy loss.
    pub policy_loss: f64,
    /// Mean value loss.
    pub value_loss: f64,
    /// Mean policy entropy (nats).
    pub entropy: f64,
    /// Approximate KL (`E[(r − 1) − log r]`, Schulman's k3 estimator) between the rollout
    /// policy and the policy being updated, on the last minibatch of the last epoch, as CleanRL
    /// logs it: the divergence the whole update reached, where a mean over all minibatches
    /// would be diluted by the first ones (which start from the rollout policy itself).
    pub approx_kl: f64,
    /// Fraction of samples whose ratio was clipped.
    pub clip_fraction: f64,
    /// Learning rate used.
    pub learning_rate: f64,
    /// Environment steps per second of the whole update (acting and learning).
    pub steps_per_second: f64,
    /// Success rate on held-out levels, when this update was evaluated (NaN otherwise).
    pub eval_success: f64,
    /// Mean return on held-out levels, when evaluated (NaN otherwise).
    pub eval_return: f64,
}

/// A PPO learner with its environment, model, optimizer and random stream.
pub struct Trainer {
    /// The run's configuration.
    pub cfg: TrainConfig,
    /// The device gradients are computed on.
    pub device: Device,
    /// The model being trained.
    pub model: ActorCritic,
    pub(crate) optim: burn::optim::ModuleOptimizer,
    pub(crate) env: VecEnv<f32>,
    pub(crate) rng: Pcg64Mcg,
    /// Recurrent state of each env, `[num_envs × hidden_size]` (empty for feed-forward models).
    pub(crate) hidden: Vec<f32>,
    /// Updates done.
    pub update: usize,
    /// Environment steps done.
    pub global_step: u64,
    /// Samples the last update's learning phase trained on, counted once per epoch.
    pub(crate) trained_samples: usize,
    /// Wall time of the last update's two phases.
    pub last_timing: UpdateTiming,
}

/// Where one update's wall time went: acting (the rollout: forward passes at batch `num_envs`,
/// sampling and env steps) and learning (advantages and every minibatch's forward, backward and
/// optimizer step).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateTiming {
    /// Seconds spent in the rollout.
    pub acting_seconds: f64,
    /// Seconds spent learning from it.
    pub learning_seconds: f64,
}

/// The number of floats in one env's recurrent state.
pub fn hidden_size(model: &ModelConfig, shape: (usize, usize, usize)) -> usize {
    if model.recurrent() {
        model.channels * shape.1 * shape.2
    } else {
        0
    }
}

/// Samples an action from logits and returns it with its log-probability.
pub fn sample_action(logits: &[f32], rng: &mut impl Rng) -> (usize, f32) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let z: f32 = logits.iter().map(|l| (l - max).exp()).sum();
    let u: f32 = rng.random::<f32>() * z;
    let mut acc = 0.0;
    let mut chosen = logits.len() - 1;
    for (i, l) in logits.iter().enumerate() {
        acc += (l - max).exp();
        if u < acc {
            chosen = i;
            break;
        }
    }
    (chosen, logits[chosen] - max - z.ln())
}

impl Trainer {
    /// A fresh learner for `cfg`: model initialised from `cfg.seed`, env reset.
    pub fn new(cfg: TrainConfig) -> Result<Trainer, LearnError> {
        cfg.validate()?;
        let base = crate::device(&cfg.device)?;
        let device = base.autodiff();
        let source = cfg.env.dist.source()?;
        let env = VecEnv::new(source, cfg.ppo.num_envs, cfg.env.obs, mix_seed(cfg.seed, 1))?.with_reward(cfg.env.training_reward()?);
        let model = crate::init_model(&cfg.model, env.obs_shape(), &device, cfg.seed);
        // No built-in clipping: `clip_grad_norm` below clips globally before each step.
        let optim = AdamConfig::new().with_epsilon(1e-5).init();
        let hidden = vec![0.0; cfg.ppo.num_envs * hidden_size(&cfg.model, env.obs_shape())];
        Ok(Trainer { rng: Pcg64Mcg::seed_from_u64(mix_seed(cfg.seed, 2)), cfg, device, model, optim, env, hidden, update: 0, global_step: 0, trained_samples: 0, last_timing: UpdateTiming::default() })
    }

    /// Shape `(C, H, W)` of the observations the model sees.
    pub fn obs_shape(&self) -> (usize, usize, usize) {
        self.env.obs_shape()
    }

    /// Updates in the whole run.
    pub fn num_updates(&self) -> usize {
        self.cfg.num_updates()
    }

    /// Whether the run has made all its updates.
    pub fn finished(&self) -> bool {
        self.update >= self.num_updates()
    }

    /// One PPO update: a rollout of `num_steps` steps in every env, then learning.
    pub fn step_update(&mut self) -> Result<UpdateMetrics, LearnError> {
        let started = Instant::now();
        let p = self.cfg.ppo.clone();
        let (m, t_len) = (p.num_envs, p.num_steps);
        let shape = self.env.obs_shape();
        let obs_size = shape.0 * shape.1 * shape.2;
        let hsize = hidden_size(&self.cfg.model, shape);
        let ticks = self.cfg.model.ticks;
        let frac = 1.0 - self.update as f64 / self.num_updates() as f64;
        let lr = if p.anneal_lr { p.learning_rate * frac } else { p.learning_rate };

        // ---- Rollout ------------------------------------------------------------------
        let r = self.rollout()?;
        let acted = Instant::now();
        let Rollout { obs_buf, hidden_buf, starts, actions, logprobs, values, rewards, dones, next_value, .. } = &r;

        // ---- Advantages (GAE) ----------------------------------------------------------
        let mut advantages = vec![0.0f32; t_len * m];
        for i in 0..m {
            let mut last = 0.0f32;
            for t in (0..t_len).rev() {
                let k = t * m + i;
                let next_v = if t + 1 == t_len { next_value[i] } else { values[k + m] };
                let nonterminal = if dones[k] { 0.0 } else { 1.0 };
                let (gamma, lambda) = (p.gamma as f32, p.gae_lambda as f32);
                let delta = rewards[k] + gamma * next_v * nonterminal - values[k];
                last = delta + gamma * lambda * nonterminal * last;
                advantages[k] = last;
            }
        }
        let returns: Vec<f32> = advantages.iter().zip(values).map(|(a, v)| a + v).collect();

        // ---- Learning ------------------------------------------------------------------
        // Samples are grouped into sequences: length 1 for feed-forward models, `bptt_len`
        // consecutive steps of one env for recurrent ones. When `bptt_len` does not divide
        // `num_steps`, each env's last sequence is shorter: it leaves the batch when it ends
        // while the others go on, so every step is trained on.
        let seq_len = if hsize > 0 { p.bptt_len.min(t_len) } else { 1 };
        let seqs: Vec<(usize, usize)> = (0..m).flat_map(|i| (0..t_len).step_by(seq_len).map(move |t| (t, i))).collect();
        let seqs_per_mb = seqs.len().div_ceil(p.num_minibatches);
        let mut order = seqs;
        let (mut pg_sum, mut v_sum, mut ent_sum, mut last_kl, mut clip_sum, mut n_mb) = (0.0, 0.0, 0.0, 0.0, 0.0, 0usize);
        self.trained_samples = 0;
        for _ in 0..p.update_epochs {
            order.shuffle(&mut self.rng);
            for mb in order.chunks(seqs_per_mb) {
                // Time-major gather: for step k of every sequence in the minibatch still running.
                let mut mb_logits = Vec::new();
                let mut mb_values = Vec::new();
                let mut states = Vec::new();
                let mut idx = Vec::new();
                let mut h: Option<Tensor<4>> = (hsize > 0).then(|| {
                    let mut v = Vec::with_capacity(mb.len() * hsize);
                    for &(t, i) in mb {
                        let k = t * m + i;
                        v.extend_from_slice(&hidden_buf[k * hsize..(k + 1) * hsize]);
                    }
                    Tensor::from_data(TensorData::new(v, [mb.len(), self.cfg.model.channels, shape.1, shape.2]), &self.device)
                });
                // Positions in `mb` of the sequences that have a step k (those of `h`'s rows).
                let mut running: Vec<usize> = (0..mb.len()).collect();
                for k in 0..seq_len {
                    let still: Vec<usize> = running.iter().copied().filter(|&j| mb[j].0 + k < t_len).collect();
                    if still.is_empty() {
                        break;
                    }
                    if still.len() != running.len() {
                        // Short sequences ended: keep the hidden rows of the others.
                        let keep: Vec<i64> = running.iter().enumerate().filter(|(_, j)| mb[**j].0 + k < t_len).map(|(pos, _)| pos as i64).collect();
                        let keep = Tensor::<1, Int>::from_data(TensorData::new(keep, [still.len()]), &self.device);
                        h = h.map(|hh| hh.select(0, keep));
                        running = still;
                    }
                    let rows: Vec<usize> = running.iter().map(|&j| (mb[j].0 + k) * m + mb[j].1).collect();
                    let mut o = Vec::with_capacity(rows.len() * obs_size);
                    for &r in &rows {
                        o.extend_from_slice(&obs_buf[r * obs_size..(r + 1) * obs_size]);
                    }
                    let obs = Tensor::<4>::from_data(TensorData::new(o, [rows.len(), shape.0, shape.1, shape.2]), &self.device);
                    if k > 0 {
                        if let Some(hh) = h.take() {
                            let keep: Vec<f32> = rows.iter().map(|&r| if starts[r] { 0.0 } else { 1.0 }).collect();
                            let keep = Tensor::<1>::from_data(TensorData::new(keep, [rows.len()]), &self.device);
                            h = Some(hh * keep.reshape([rows.len(), 1, 1, 1]));
                        }
                    }
                    if hsize > 0 {
                        // Only the recurrence is stepped; the readout runs once on every step's state.
                        let state = self.model.recur(obs, h.take(), ticks).expect("a recurrent model");
                        states.push(state.clone());
                        h = Some(state);
                    } else {
                        let out = self.model.forward(obs, None, ticks, false);
                        mb_logits.push(out.logits);
                        mb_values.push(out.value);
                    }
                    idx.extend(rows);
                }
                let n = idx.len();
                self.trained_samples += n;
                let (logits, new_values) = if hsize > 0 {
                    self.model.read_out(Tensor::cat(states, 0)).expect("a recurrent model")
                } else {
                    (Tensor::cat(mb_logits, 0), Tensor::cat(mb_values, 0))
                };
                let pick = |src: &[f32]| Tensor::<1>::from_data(TensorData::new(idx.iter().map(|&r| src[r]).collect::<Vec<f32>>(), [n]), &self.device);
                let old_logprob = pick(logprobs);
                let old_values = pick(values);
                let mb_returns = pick(&returns);
                let mut mb_adv: Vec<f32> = idx.iter().map(|&r| advantages[r]).collect();
                if p.norm_adv && n > 1 {
                    let mean = mb_adv.iter().sum::<f32>() / n as f32;
                    let std = (mb_adv.iter().map(|a| (a - mean).powi(2)).sum::<f32>() / (n - 1) as f32).sqrt();
                    mb_adv.iter_mut().for_each(|a| *a = (*a - mean) / (std + 1e-8));
                }
                let adv = Tensor::<1>::from_data(TensorData::new(mb_adv, [n]), &self.device);
                let acts = Tensor::<1, Int>::from_data(TensorData::new(idx.iter().map(|&r| actions[r]).collect::<Vec<i64>>(), [n]), &self.device);

                let logp = log_softmax(logits, 1);
                let new_logprob: Tensor<1> = logp.clone().gather(1, acts.unsqueeze_dim(1)).squeeze_dim(1);
                let entropy: Tensor<1> = (logp.clone().exp() * logp).sum_dim(1).squeeze_dim::<1>(1).neg();
                let logratio = new_logprob - old_logprob;
                let ratio = logratio.clone().exp();
                let pg1 = adv.clone().neg() * ratio.clone();
                let pg2 = adv.neg() * ratio.clone().clamp(1.0 - p.clip_coef, 1.0 + p.clip_coef);
                let pg_loss = pg1.max_pair(pg2).mean();
                let v_unclipped = (new_values.clone() - mb_returns.clone()).powi_scalar(2);
                let v_loss = if p.clip_vloss {
                    let clipped = old_values.clone() + (new_values - old_values).clamp(-p.clip_coef, p.clip_coef);
                    v_unclipped.max_pair((clipped - mb_returns).powi_scalar(2)).mean() * 0.5
                } else {
                    v_unclipped.mean() * 0.5
                };
                let ent = entropy.mean();
                let loss = pg_loss.clone() - ent.clone() * p.ent_coef + v_loss.clone() * p.vf_coef;

                // Diagnostics (no gradient).
                let approx_kl: f32 = ((ratio.clone() - 1.0) - logratio).mean().into_scalar();
                let clipfrac: f32 = (ratio - 1.0).abs().greater_elem(p.clip_coef).float().mean().into_scalar();
                pg_sum += pg_loss.clone().into_scalar::<f32>() as f64;
                v_sum += v_loss.clone().into_scalar::<f32>() as f64;
                ent_sum += ent.clone().into_scalar::<f32>() as f64;
                last_kl = approx_kl as f64;
                clip_sum += clipfrac as f64;
                n_mb += 1;

                let mut grads = GradientsParams::from_grads(loss.backward(), &self.model);
                clip_grad_norm(&self.model, &mut grads, p.max_grad_norm);
                self.model = self.optim.step(lr, self.model.clone(), grads);
            }
        }
        self.update += 1;
        self.last_timing = UpdateTiming { acting_seconds: (acted - started).as_secs_f64(), learning_seconds: acted.elapsed().as_secs_f64() };
        let nmb = n_mb.max(1) as f64;
        Ok(UpdateMetrics {
            update: self.update,
            step: self.global_step,
            episode_return: if r.episodes > 0 { r.ep_return_sum / r.episodes as f64 } else { f64::NAN },
            success_rate: if r.episodes > 0 { r.ep_success as f64 / r.episodes as f64 } else { f64::NAN },
            episodes: r.episodes,
            policy_loss: pg_sum / nmb,
            value_loss: v_sum / nmb,
            entropy: ent_sum / nmb,
            approx_kl: last_kl,
            clip_fraction: clip_sum / nmb,
            learning_rate: lr,
            steps_per_second: (t_len * m) as f64 / started.elapsed().as_secs_f64(),
            eval_success: f64::NAN,
            eval_return: f64::NAN,
        })
    }

    /// Plays `num_steps` steps in every env with the current policy, recording what learning
    /// needs (row `t·num_envs + i` is env `i` at step `t`).
    pub(crate) fn rollout(&mut self) -> Result<Rollout, LearnError> {
        let p = &self.cfg.ppo;
        let (m, t_len) = (p.num_envs, p.num_steps);
        let gamma = p.gamma as f32;
        let shape = self.env.obs_shape();
        let obs_size = shape.0 * shape.1 * shape.2;
        let hsize = hidden_size(&self.cfg.model, shape);
        let ticks = self.cfg.model.ticks;
        let channels = self.cfg.model.channels;
        let actor = self.model.valid();
        let infer = crate::device(&self.cfg.device)?;
        let hidden_tensor = |rows: Vec<f32>, n: usize| Tensor::<4>::from_data(TensorData::new(rows, [n, channels, shape.1, shape.2]), &infer);
        let mut r = Rollout {
            obs_buf: vec![0.0f32; t_len * m * obs_size],
            hidden_buf: vec![0.0f32; t_len * m * hsize],
            starts: vec![false; t_len * m],
            actions: vec![0i64; t_len * m],
            logprobs: vec![0.0f32; t_len * m],
            values: vec![0.0f32; t_len * m],
            rewards: vec![0.0f32; t_len * m],
            dones: vec![false; t_len * m],
            next_value: Vec::new(),
            ep_return_sum: 0.0,
            ep_success: 0,
            episodes: 0,
        };
        let mut step_actions = vec![Action::Noop; m];
        let mut episode_start: Vec<bool> = self.env.states().iter().map(|s| s.t == 0).collect();
        for t in 0..t_len {
            let row = t * m;
            r.obs_buf[row * obs_size..(row + m) * obs_size].copy_from_slice(self.env.observations());
            r.hidden_buf[row * hsize..(row + m) * hsize].copy_from_slice(&self.hidden);
            r.starts[row..row + m].copy_from_slice(&episode_start);
            let obs = Tensor::<4>::from_data(TensorData::new(self.env.observations().to_vec(), [m, shape.0, shape.1, shape.2]), &infer);
            let h = (hsize > 0).then(|| hidden_tensor(self.hidden.clone(), m));
            let out = actor.forward(obs, h, ticks, false);
            let logits = out.logits.into_data();
            let logits = logits.as_slice::<f32>().expect("f32 logits");
            let value = out.value.into_data();
            r.values[row..row + m].copy_from_slice(value.as_slice::<f32>().expect("f32 values"));
            if let Some(h) = out.hidden {
                self.hidden.copy_from_slice(h.into_data().as_slice::<f32>().expect("f32 hidden"));
            }
            for i in 0..m {
                let (a, lp) = sample_action(&logits[i * Action::COUNT..(i + 1) * Action::COUNT], &mut self.rng);
                step_actions[i] = Action::ALL[a];
                r.actions[row + i] = a as i64;
                r.logprobs[row + i] = lp;
            }
            self.env.step(&step_actions)?;

            // Truncated (not terminated) episodes: bootstrap from the value of the observation
            // they were cut at, seen from the recurrent state after this step (as the next
            // step would have been), before that state is reset below.
            let cut: Vec<usize> = (0..m).filter(|&i| self.env.truncated()[i] && !self.env.terminated()[i]).collect();
            if !cut.is_empty() {
                let mut o = Vec::with_capacity(cut.len() * obs_size);
                let mut hh = Vec::with_capacity(cut.len() * hsize);
                for &i in &cut {
                    o.extend_from_slice(self.env.final_observation(i).expect("a truncated episode has a final observation"));
                    hh.extend_from_slice(&self.hidden[i * hsize..(i + 1) * hsize]);
                }
                let obs = Tensor::<4>::from_data(TensorData::new(o, [cut.len(), shape.0, shape.1, shape.2]), &infer);
                let h = (hsize > 0).then(|| hidden_tensor(hh, cut.len()));
                let v = actor.forward(obs, h, ticks, false).value.into_data();
                for (&i, v) in cut.iter().zip(v.as_slice::<f32>().expect("f32 values")) {
                    r.rewards[row + i] = gamma * v;
                }
            }
            for i in 0..m {
                r.rewards[row + i] += self.env.rewards()[i];
                let done = self.env.terminated()[i] || self.env.truncated()[i];
                r.dones[row + i] = done;
                episode_start[i] = done;
                if done {
                    r.episodes += 1;
                    r.ep_return_sum += self.env.episode_returns()[i] as f64;
                    r.ep_success += self.env.successes()[i] as usize;
                    self.hidden[i * hsize..(i + 1) * hsize].fill(0.0);
                }
            }
        }
        self.global_step += (t_len * m) as u64;
        let obs = Tensor::<4>::from_data(TensorData::new(self.env.observations().to_vec(), [m, shape.0, shape.1, shape.2]), &infer);
        let h = (hsize > 0).then(|| hidden_tensor(self.hidden.clone(), m));
        r.next_value = actor.forward(obs, h, ticks, false).value.into_data().try_to_vec::<f32>().expect("f32 values");
        Ok(r)
    }
}

/// One rollout's buffers, time-major (row `t·num_envs + i`), and its finished episodes.
pub(crate) struct Rollout {
    /// Observations the actions were taken on.
    pub(crate) obs_buf: Vec<f32>,
    /// Recurrent state before each step (empty for feed-forward models).
    pub(crate) hidden_buf: Vec<f32>,
    /// Whether the step is an episode's first.
    pub(crate) starts: Vec<bool>,
    /// Actions taken.
    pub(crate) actions: Vec<i64>,
    /// Their log-probabilities under the rollout policy.
    pub(crate) logprobs: Vec<f32>,
    /// Value estimates of the observations.
    pub(crate) values: Vec<f32>,
    /// Rewards, plus `γ·V(final observation)` on the last step of a truncated episode.
    pub(crate) rewards: Vec<f32>,
    /// Whether the episode ended on the step (terminated or truncated).
    pub(crate) dones: Vec<bool>,
    /// Value of each env's observation after the last step.
    pub(crate) next_value: Vec<f32>,
    /// Sum of the returns of the episodes that ended.
    pub(crate) ep_return_sum: f64,
    /// How many of them reached the goal.
    pub(crate) ep_success: usize,
    /// How many episodes ended.
    pub(crate) episodes: usize,
}

/// Scales every gradient of `module` in `grads` by the same factor so that their global L2 norm
/// (over all parameters together) is at most `max_norm`, exactly as
/// `torch.nn.utils.clip_grad_norm_` does (factor `max_norm / (norm + 1e-6)`, only when below 1).
/// Returns the norm before clipping.
pub fn clip_grad_norm<M: Module>(module: &M, grads: &mut GradientsParams, max_norm: f64) -> f64 {
    struct SumOfSquares<'a> {
        grads: &'a GradientsParams,
        sum: f64,
    }
    impl ModuleVisitor for SumOfSquares<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                self.sum += g.powi_scalar(2).sum().into_scalar::<f32>() as f64;
            }
        }
    }
    struct Scale<'a> {
        grads: &'a mut GradientsParams,
        factor: f64,
    }
    impl ModuleVisitor for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.remove::<D>(param.id) {
                self.grads.register::<D>(param.id, g.mul_scalar(self.factor));
            }
        }
    }
    let mut sq = SumOfSquares { grads, sum: 0.0 };
    module.visit(&mut sq);
    let norm = sq.sum.sqrt();
    let factor = max_norm / (norm + 1e-6);
    if factor < 1.0 {
        module.visit(&mut Scale { grads, factor });
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &[&str]) -> TrainConfig {
        let mut o: Vec<String> = ["model.kind=\"mlp\"", "model.hidden=16", "ppo.num_envs=4", "ppo.num_steps=12", "eval.levels=1"].iter().map(|s| s.to_string()).collect();
        o.extend(extra.iter().map(|s| s.to_string()));
        TrainConfig::from_toml_with("", &o).unwrap()
    }

    /// Every parameter's gradient, flattened, in visiting order.
    fn collect(model: &ActorCritic, grads: &GradientsParams) -> Vec<Vec<f32>> {
        struct Collect<'a>(&'a GradientsParams, Vec<Vec<f32>>);
        impl ModuleVisitor for Collect<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                if let Some(g) = self.0.get::<D>(param.id) {
                    self.1.push(g.into_data().try_to_vec::<f32>().unwrap());
                }
            }
        }
        let mut c = Collect(grads, Vec::new());
        model.visit(&mut c);
        c.1
    }

    fn norm(v: &[Vec<f32>]) -> f64 {
        v.iter().flatten().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt()
    }

    #[test]
    fn gradients_are_clipped_to_a_global_norm_in_the_same_direction() {
        let device = Device::flex().autodiff();
        let c = cfg(&[]);
        let model = crate::init_model(&c.model, (8, 9, 9), &device, 0);
        let obs = Tensor::<4>::random([16, 8, 9, 9], burn::tensor::Distribution::Uniform(0.0, 1.0), &device);
        let grads_of = || {
            let out = model.forward(obs.clone(), None, 1, false);
            let loss = out.logits.powi_scalar(2).sum() * 100.0 + out.value.powi_scalar(2).sum() * 100.0;
            GradientsParams::from_grads(loss.backward(), &model)
        };
        let mut grads = grads_of();
        let before = collect(&model, &grads);
        let total = norm(&before);
        let smallest = before.iter().map(|g| norm(std::slice::from_ref(g))).fold(f64::INFINITY, f64::min);
        // Between the smallest tensor's norm and the global one: clipping each tensor on its
        // own would leave the smallest alone and shrink the others, turning the direction, and
        // its total could exceed the limit.
        let max_norm = (smallest * total).sqrt();
        assert!(smallest < max_norm && max_norm < total, "{smallest} {max_norm} {total}");
        let reported = clip_grad_norm(&model, &mut grads, max_norm);
        assert!((reported - total).abs() <= 1e-4 * total, "returns the norm before clipping");
        let after = collect(&model, &grads);
        assert!(norm(&after) <= max_norm * (1.0 + 1e-5), "global norm {} > {max_norm}", norm(&after));
        assert!(norm(&after) >= max_norm * (1.0 - 1e-4), "clipped to the limit, not below");
        let factor = max_norm / (total + 1e-6);
        for (b, a) in before.iter().flatten().zip(after.iter().flatten()) {
            assert!((*a as f64 - factor * *b as f64).abs() <= 1e-5 * (b.abs() as f64).max(1e-3), "every element scaled by the same factor");
        }
        // A limit above the norm leaves the gradients untouched.
        let mut grads = grads_of();
        clip_grad_norm(&model, &mut grads, total * 2.0);
        assert_eq!(collect(&model, &grads), before);
    }

    #[test]
    fn truncated_episodes_bootstrap_from_the_value_of_their_final_observation() {
        // Horizon 3 on 9x9 mazes with the cheese at least 8 steps away: every episode is
        // truncated at its third step, none terminates.
        let c = cfg(&["env.horizon=3"]);
        let mut trainer = Trainer::new(c.clone()).unwrap();
        let mut twin: VecEnv<f32> = VecEnv::new(c.env.dist.source().unwrap(), 4, c.env.obs, mix_seed(c.seed, 1)).unwrap();
        let r = trainer.rollout().unwrap();
        let actor = trainer.model.valid();
        let device = crate::device("cpu").unwrap();
        let (gamma, (ch, h, w)) = (c.ppo.gamma as f32, twin.obs_shape());
        let mut biggest = 0.0f32;
        for t in 0..12 {
            let actions: Vec<Action> = (0..4).map(|i| Action::ALL[r.actions[t * 4 + i] as usize]).collect();
            twin.step(&actions).unwrap();
            for i in 0..4 {
                let k = t * 4 + i;
                assert_eq!(twin.truncated()[i], (t + 1) % 3 == 0);
                assert!(!twin.terminated()[i]);
                let mut expected = twin.rewards()[i];
                if twin.truncated()[i] {
                    let o = twin.final_observation(i).unwrap().to_vec();
                    let v: f32 = actor.forward(Tensor::<4>::from_data(TensorData::new(o, [1, ch, h, w]), &device), None, 1, false).value.into_scalar();
                    expected += gamma * v;
                    biggest = biggest.max((gamma * v).abs());
                }
                assert!((r.rewards[k] - expected).abs() < 1e-5, "step {t} env {i}: {} vs {expected}", r.rewards[k]);
                assert_eq!(r.dones[k], twin.truncated()[i], "the bootstrapped step still ends the episode for GAE");
            }
        }
        assert!(biggest > 1e-3, "the bootstrap must be visible for this test to mean anything: {biggest}");
    }

    #[test]
    fn recurrent_updates_train_on_every_step_when_bptt_len_does_not_divide_num_steps() {
        // 20 steps in sequences of 8: 8 + 8 + 4 per env.
        let c = cfg(&["env.size=5", "model.kind=\"convgru\"", "model.channels=4", "ppo.num_envs=2", "ppo.num_steps=20", "ppo.bptt_len=8", "ppo.num_minibatches=2", "ppo.update_epochs=2"]);
        let mut trainer = Trainer::new(c).unwrap();
        let m = trainer.step_update().unwrap();
        assert!(m.policy_loss.is_finite() && m.value_loss.is_finite());
        assert_eq!(trainer.trained_samples, 2 * 2 * 20);
    }
}
