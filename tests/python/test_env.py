"""Spot-sampling environment: reward against the NumPy reference, determinism, vector env vs
single envs, Gymnasium / SB3 / TorchRL conformance, baselines and bad input."""
from __future__ import annotations

import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch

import stx  # noqa: F401
from stx import envs
from env_reference import ReferenceSpotSampling, marginal_value

native = stx._C.envs


@pytest.fixture(scope="module")
def task():
    return envs.synthetic_task(num_spots=150, num_sections=2, seed=3, section_seed=5)


@pytest.fixture(scope="module")
def data():
    return envs.synthetic_data(num_spots=150, num_sections=2, seed=3, section_seed=5)


def reference_for(task, **kw):
    xy = envs.synthetic_data(num_spots=150, num_sections=2, seed=3, section_seed=5)["coords"].numpy()
    return ReferenceSpotSampling(xy, np.asarray(task.section_index), np.asarray(task.section_diameter),
                                 task.spot_cluster.numpy(), task.spot_type.numpy(), task.num_clusters,
                                 task.num_types, **kw)


def random_actions(env, rng):
    return rng.choice(np.flatnonzero(env.action_mask()), size=env.picks_this_step, replace=False).tolist()


# ---------------------------------------------------------------- reward vs the NumPy reference
@pytest.mark.parametrize("weights", [(20.0, 5.0, 0.05), (1.0, -2.0, 3.0)])
def test_marginal_reward_matches_reference(task, weights):
    rng = np.random.default_rng(0)
    env = native.SpotSamplingEnv(task, 7, budget_ratio=0.2, mode="marginal", weights=weights)
    ref = reference_for(task, budget_ratio=0.2, mode="marginal", weights=weights)
    env.reset()
    ref.reset()
    total, done = 0.0, False
    while not done:
        a = random_actions(env, rng)
        r, term, trunc, terms, *_ = env.step(a)
        r_ref, term_ref, terms_ref = ref.step(a)
        np.testing.assert_allclose(terms, terms_ref, rtol=1e-9, atol=1e-12)
        assert r == pytest.approx(r_ref, rel=1e-9, abs=1e-12)
        assert term == term_ref and not trunc
        np.testing.assert_array_equal(env.sampled(), ref.sampled)
        total += r
        done = term
    assert env.spots_left == 0 and len(env.history) == ref.total == 60
    # The marginal rewards telescope: their sum is w . (V(S_final) - V(empty)).
    v_end = np.array(marginal_value(env.history, ref.xy, ref.section, ref.diameter, ref.cluster, ref.ctype,
                                    ref.num_clusters, ref.num_types))
    assert total == pytest.approx(float(np.dot(weights, v_end - np.array([0.0, 0.0, -0.5]))), rel=1e-9)


def test_incremental_numpy_env_matches_cpp(task):
    from env_reference import IncrementalReference

    xy = envs.synthetic_data(num_spots=150, num_sections=2, seed=3, section_seed=5)["coords"].numpy()
    inc = IncrementalReference(xy, np.asarray(task.section_index), np.asarray(task.section_diameter),
                               task.spot_cluster.numpy(), task.spot_type.numpy(), task.num_clusters, task.num_types,
                               budget_ratio=0.2)
    env = native.SpotSamplingEnv(task, 0, budget_ratio=0.2)
    env.reset()
    inc.reset()
    rng = np.random.default_rng(9)
    for _ in range(inc.total):
        a = random_actions(env, rng)
        r, term, _, terms, *_ = env.step(a)
        r_inc, term_inc, terms_inc = inc.step(a[0])
        np.testing.assert_allclose(terms, terms_inc, rtol=1e-9, atol=1e-12)
        assert term == term_inc


@pytest.mark.parametrize("exclude_initial", [True, False])
@pytest.mark.parametrize("per_round", [False, True])
def test_faithful_rounds_match_reference(task, exclude_initial, per_round):
    rng = np.random.default_rng(1)
    round_size = int(task.num_spots * (0.3 / 3))  # the published code's value
    env = native.SpotSamplingEnv(task, 11, budget_ratio=0.3, mode="faithful", exclude_initial=exclude_initial,
                                 picks_per_step=round_size if per_round else 1)
    ref = reference_for(task, budget_ratio=0.3, mode="faithful", exclude_initial=exclude_initial)
    env.reset()
    s0 = list(env.history)
    assert env.round_size == round_size and len(s0) == round_size and len(set(s0)) == round_size
    ref.reset(s0)
    np.testing.assert_allclose(env.initial_terms, ref.initial_terms, rtol=1e-9)
    np.testing.assert_array_equal(env.action_mask(), ref.mask)
    rounds, steps, done = 0, 0, False
    while not done:
        a = random_actions(env, rng)
        r, term, _, terms, complete, invalid = env.step(a)
        assert not invalid
        r_ref, term_ref, terms_ref = ref.step(a)
        np.testing.assert_allclose(terms, terms_ref, rtol=1e-9, atol=1e-12)
        assert r == pytest.approx(r_ref, rel=1e-9, abs=1e-12) and term == term_ref
        rounds += complete
        steps += 1
        done = term
    assert rounds == 2  # S0, then two RL rounds
    assert steps == (2 if per_round else 2 * round_size)


def test_faithful_single_type_round_is_minus_one():
    # Quirk kept on purpose: Pielou over the observed types is ~ -1 when a round sees one type.
    from env_reference import faithful_round_value
    r = faithful_round_value([0, 1], np.zeros((3, 2)), np.array([0, 0, 1]), np.array([2, 2, 2]), 10)
    assert r[1] == pytest.approx(-1.0, abs=1e-6)


# ---------------------------------------------------------------- prior and nearest queries
def test_prior_matches_numpy(data):
    z = data["cell_embeddings"].double().numpy()
    prior = envs.build_prior(data["cell_embeddings"], data["cell_types"], num_clusters=20, pca_components=5, seed=1)
    zc = z - z.mean(0)
    w, v = np.linalg.eigh(zc.T @ zc / (len(z) - 1))
    axes = v[:, ::-1][:, :5]
    np.testing.assert_allclose(np.abs(prior.components.numpy().T @ axes), np.eye(5), atol=1e-4)
    q = data["reward_embedding"].numpy()
    proj = prior.project(data["reward_embedding"]).numpy()
    np.testing.assert_allclose(np.abs(proj), np.abs((q - z.mean(0)) @ axes), rtol=1e-3, atol=1e-3)
    cent = prior.centroids.numpy()
    d = ((proj[:, None] - cent[None]) ** 2).sum(-1)
    got = prior.nearest_cluster(data["reward_embedding"]).numpy()
    np.testing.assert_allclose(d[np.arange(len(d)), got], d.min(1), rtol=1e-5, atol=1e-5)
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    zn = z / np.linalg.norm(z, axis=1, keepdims=True)
    sim = qn @ zn.T
    cell = prior.nearest_cell(data["reward_embedding"]).numpy()
    np.testing.assert_allclose(sim[np.arange(len(sim)), cell], sim.max(1), rtol=1e-5, atol=1e-6)


def test_prior_with_precomputed_clusters_uses_label_means(data):
    labels = data["cell_types"]
    prior = envs.build_prior(data["cell_embeddings"], data["cell_types"], cluster_labels=labels, pca_components=4)
    proj = prior.project(data["cell_embeddings"]).numpy()
    want = np.stack([proj[labels.numpy() == c].mean(0) for c in range(int(labels.max()) + 1)])
    np.testing.assert_allclose(prior.centroids.numpy(), want, rtol=1e-4, atol=1e-4)


def test_kmeans_is_seeded(data):
    a = envs.build_prior(data["cell_embeddings"], data["cell_types"], num_clusters=16, seed=4)
    b = envs.build_prior(data["cell_embeddings"], data["cell_types"], num_clusters=16, seed=4)
    assert torch.equal(a.centroids, b.centroids)


# ---------------------------------------------------------------- determinism and vector env
def test_gymnasium_env_is_deterministic_under_seed():
    def run(seed):
        env = envs.SpotSamplingEnv(mode="faithful", budget_ratio=0.3, synthetic=dict(num_spots=90))
        obs, _ = env.reset(seed=seed)
        traj = [obs["sampled"].copy()]
        done = False
        while not done:
            a = env.np_random.choice(np.flatnonzero(env.action_masks()))
            obs, r, term, trunc, _ = env.step(a)
            traj.append((int(a), r))
            done = term or trunc
        return traj

    a, b, c = run(5), run(5), run(6)
    assert np.array_equal(a[0], b[0]) and a[1:] == b[1:]
    assert not (np.array_equal(a[0], c[0]) and a[1:] == c[1:])


@pytest.mark.parametrize("mode", ["marginal", "faithful"])
def test_vector_env_equals_single_envs(task, mode):
    m, seed = 5, 100
    kw = dict(budget_ratio=0.1, mode=mode)
    vec = native.SpotSamplingVecEnv([task], m, seed, 2, **kw)
    singles = [native.SpotSamplingEnv(task, seed + i, **kw) for i in range(m)]
    vec.reset()
    for s in singles:
        s.reset()
    rng = np.random.default_rng(3)
    ends = 0
    for _ in range(40):  # several episodes: exercises next-step autoreset
        for i, s in enumerate(singles):
            np.testing.assert_array_equal(vec.sampled[i].numpy(), s.sampled())
            np.testing.assert_array_equal(vec.action_mask[i].numpy(), s.action_mask())
        actions = [random_actions(s, rng)[0] if not s.done else 0 for s in singles]
        vec.step(torch.tensor(actions))
        for i, s in enumerate(singles):
            if s.done:
                s.reset()
                assert vec.reward[i] == 0 and not vec.terminated[i]
                continue
            r, term, trunc, terms, *_ = s.step([actions[i]])
            assert vec.reward[i].item() == r and bool(vec.terminated[i]) == term
            np.testing.assert_array_equal(vec.terms[i].numpy(), terms)
            ends += term
    assert ends >= m


def test_vector_env_zero_copy_and_gymnasium_api():
    venv = gym.make_vec("stx/SpotSampling-v0", num_envs=3, vectorization_mode="vector_entry_point",
                        synthetic=dict(num_spots=60))
    assert isinstance(venv.unwrapped, gym.vector.VectorEnv)
    obs, _ = venv.reset(seed=0)
    assert obs in venv.observation_space
    assert np.shares_memory(obs["sampled"], venv.unwrapped.native.sampled.numpy())
    for _ in range(6):  # 10 % of 60 spots: the episodes end at step 6
        actions = [np.flatnonzero(m)[0] for m in venv.unwrapped.action_masks()]
        obs, rew, term, trunc, info = venv.step(np.array(actions))
    assert rew.shape == term.shape == trunc.shape == (3,)
    assert obs["sampled"].sum(1).tolist() == [6, 6, 6] and term.all() and not trunc.any()
    obs, rew, term, _, _ = venv.step(np.zeros(3, dtype=np.int64))  # next-step autoreset: action ignored
    assert obs["sampled"].sum() == 0 and not rew.any() and not term.any()
    venv.step(np.array([0, 1, 2]))
    obs, _ = venv.reset(options={"reset_mask": np.array([True, False, False])})
    assert obs["sampled"].sum(1).tolist() == [0, 1, 1]
    venv.close()


# ---------------------------------------------------------------- RL library conformance
CHECKER_MODES = [dict(mode="marginal"), dict(mode="faithful"), dict(mode="faithful", exclude_initial=False),
                 dict(mode="marginal", picks_per_step=3), dict(mode="faithful", picks_per_step=2)]


@pytest.mark.parametrize("kw", CHECKER_MODES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gymnasium_check_env(kw, seed):
    # The checker steps with random actions; in faithful mode they land on masked S0 spots, and with
    # k picks per step a random MultiBinary vector has the wrong number of ones: "penalize" answers
    # both with a flagged no-op instead of raising.
    from gymnasium.utils.env_checker import check_env

    env = gym.make("stx/SpotSampling-v0", synthetic=dict(num_spots=80), budget_ratio=0.25,
                   invalid_action="penalize", **kw)
    env.unwrapped.action_space.seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)
    assert env.unwrapped.action_masks().dtype == bool


@pytest.mark.parametrize("kw", CHECKER_MODES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sb3_check_env(kw, seed):
    from stable_baselines3.common.env_checker import check_env

    env = envs.SpotSamplingEnv(synthetic=dict(num_spots=60), budget_ratio=0.3, invalid_action="penalize", **kw)
    env.action_space.seed(seed)
    check_env(env, warn=False)


def test_checkers_need_penalize_in_faithful_mode():
    # The default ("raise") rejects the masked action a random checker draws: why the option exists.
    env = envs.SpotSamplingEnv(synthetic=dict(num_spots=60), budget_ratio=0.3, mode="faithful")
    env.reset(seed=0)
    s0 = int(np.flatnonzero(env.native.sampled())[0])
    with pytest.raises(ValueError, match=f"action {s0} is masked"):
        env.step(s0)


@pytest.mark.parametrize("picks", [1, 3])
def test_penalize_is_a_flagged_no_op_with_a_penalty(picks):
    env = envs.SpotSamplingEnv(synthetic=dict(num_spots=60), budget_ratio=0.3, mode="faithful", picks_per_step=picks,
                               invalid_action="penalize", invalid_penalty=2.5, max_steps=6)
    obs, _ = env.reset(seed=0)
    r0 = env.native.round_size
    s0 = int(np.flatnonzero(obs["sampled"])[0])
    valid = np.flatnonzero(obs["action_mask"])
    one_hot = np.eye(60, dtype=np.int8)
    bad_actions = [s0, 60, -1] if picks == 1 else [one_hot[[s0, valid[0], valid[1]]].sum(0), np.zeros(60, np.int8)]
    for step, bad in enumerate(bad_actions):
        before = (obs["sampled"].copy(), env.native.spots_left, list(env.native.history))
        obs, reward, term, trunc, info = env.step(bad)
        assert reward == -2.5 and info["invalid_action"] and not term and not trunc
        assert np.array_equal(obs["sampled"], before[0]) and env.native.spots_left == before[1]
        assert list(env.native.history) == before[2] and env.native.elapsed_steps == step + 1
    good = valid[0] if picks == 1 else one_hot[valid[:3]].sum(0)
    obs, reward, term, trunc, info = env.step(good)
    assert not info["invalid_action"] and obs["sampled"].sum() == r0 + picks
    # The no-ops count towards max_steps, so a random agent always ends an episode.
    while not trunc:
        obs, reward, term, trunc, info = env.step(bad_actions[0])
        assert info["invalid_action"] and not term
    assert env.native.elapsed_steps == 6
    with pytest.raises(ValueError, match="episode that has ended"):  # protocol errors still raise
        env.step(good)


def test_penalize_in_the_vector_env_flags_each_env():
    venv = envs.SpotSamplingVectorEnv(num_envs=3, synthetic=dict(num_spots=60), budget_ratio=0.3, mode="faithful",
                                      invalid_action="penalize", invalid_penalty=1.0)
    obs, info = venv.reset(seed=0)
    assert not info["invalid_action"].any()
    masked = [int(np.flatnonzero(r)[0]) for r in obs["sampled"]]
    valid = [int(np.flatnonzero(r)[0]) for r in obs["action_mask"]]
    obs, rew, term, trunc, info = venv.step(np.array([masked[0], valid[1], 999]))
    assert info["invalid_action"].tolist() == [True, False, True]
    r0 = venv.native.env(0).round_size
    assert rew[0] == -1.0 and rew[2] == -1.0 and obs["sampled"].sum(1).tolist() == [r0, r0 + 1, r0]
    sb3 = envs.SpotSamplingSB3VecEnv(venv)
    sb3.reset()
    sb3.step_async(np.array([0, 0, 0]))
    _, _, _, infos = sb3.step_wait()
    assert all("invalid_action" in i for i in infos)


def test_torchrl_check_env_specs():
    from torchrl.envs.utils import check_env_specs

    env = envs.make_torchrl_env(synthetic=dict(num_spots=60))
    check_env_specs(env, seed=0)
    td = env.reset()
    assert td["action_mask"].shape == (60,)


def test_maskable_ppo_smoke_and_sb3_vec_env():
    from sb3_contrib import MaskablePPO

    vec = envs.SpotSamplingSB3VecEnv(num_envs=2, synthetic=dict(num_spots=60), budget_ratio=0.1)
    model = MaskablePPO(envs.SpotScoringPolicy, vec, n_steps=32, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(64)
    obs = vec.reset()
    seen_done = False
    for _ in range(7):
        masks = np.stack(vec.env_method("action_masks"))
        action, _ = model.predict(obs, action_masks=masks, deterministic=True)
        assert all(masks[i, a] for i, a in enumerate(action))
        obs, rew, dones, infos = vec.step(action)
        if dones.any():
            seen_done = True
            i = int(np.flatnonzero(dones)[0])
            assert infos[i]["terminal_observation"]["sampled"].sum() == 6
            assert obs["sampled"][i].sum() == 0 and not infos[i]["TimeLimit.truncated"]
    assert seen_done


# ---------------------------------------------------------------- baselines and sampling helper
@pytest.mark.parametrize("policy", envs.BASELINE_POLICIES)
def test_baselines_pick_valid_distinct_spots(task, policy):
    env = native.SpotSamplingEnv(task, 0, budget_ratio=0.2)
    env.reset()
    env.step([3])
    picks = native.baseline_select(env, policy, 40, 1)
    assert len(set(picks)) == 40 and 3 not in picks
    assert picks == native.baseline_select(env, policy, 40, 1)
    gym_env = envs.SpotSamplingEnv(task, budget_ratio=0.2)
    gym_env.reset(seed=0)
    pol, done, total = envs.BaselinePolicy(policy, seed=2), False, 0.0
    while not done:
        _, r, done, _, _ = gym_env.step(pol.act(gym_env))
        total += r
    assert total == pytest.approx(envs.run_baseline_episode(gym_env, policy, 2), rel=1e-9) or policy == "random"


def test_kcenter_is_farthest_first(task):
    env = native.SpotSamplingEnv(task, 0, budget_ratio=0.2)
    env.reset()
    env.step([10])
    x = task.features.double().numpy()
    x = (x - x.mean(0)) / x.std(0, ddof=1)
    mind = np.linalg.norm(x - x[10], axis=1)
    mind[10] = -1
    want = []
    for _ in range(15):
        j = int(np.argmax(mind))
        want.append(j)
        mind = np.minimum(mind, np.linalg.norm(x - x[j], axis=1))
        mind[want] = -1
    assert native.baseline_select(env, "kcenter", 15, 0) == want


def test_gumbel_topk_matches_softmax_first_pick():
    logits = torch.tensor([0.0, 1.0, 2.0, -1.0, 3.0])
    mask = torch.tensor([1, 1, 1, 1, 0])
    firsts = torch.stack([envs.gumbel_topk(logits, mask, 2, seed=s) for s in range(4000)])
    assert (firsts[:, 0] != firsts[:, 1]).all() and not (firsts == 4).any()
    freq = torch.bincount(firsts[:, 0], minlength=5)[:4].double() / 4000
    want = torch.softmax(logits[:4].double(), 0)
    assert torch.allclose(freq, want, atol=0.03)
    batch = envs.gumbel_topk(torch.zeros(3, 6), torch.ones(3, 6), 6, seed=1)
    assert (batch.sort(1).values == torch.arange(6)).all()


# ---------------------------------------------------------------- bad input
def test_bad_sections_raise(data):
    prior = envs.build_prior(data["cell_embeddings"], data["cell_types"], num_clusters=8)
    f, c, e = data["features"], data["coords"], data["reward_embedding"]
    with pytest.raises(RuntimeError, match="at least one spot"):
        envs.make_task(f[:0], c[:0], e[:0], prior)
    with pytest.raises(RuntimeError, match="section.coords must have shape"):
        envs.make_task(f, c[:-1], e, prior)
    with pytest.raises(RuntimeError, match="section.reward_embedding must have"):
        envs.make_task(f, c, e[:, :5], prior)
    bad = f.clone()
    bad[3, 2] = float("nan")
    with pytest.raises(RuntimeError, match="section.features contains NaN"):
        envs.make_task(bad, c, e, prior)
    with pytest.raises(RuntimeError, match="reference.cell_types"):
        envs.build_prior(data["cell_embeddings"], data["cell_types"][:-1])


@pytest.mark.parametrize("kw, match", [
    (dict(budget_ratio=0.0), "budget_ratio must be in"), (dict(budget_ratio=1.5), "budget_ratio must be in"),
    (dict(budget_ratio=0.001), "budget of 0 spots"), (dict(picks_per_step=0), "picks_per_step"),
    (dict(max_steps=-1), "max_steps"), (dict(invalid_penalty=float("nan")), "invalid_penalty"),
])
def test_bad_config_raises(task, kw, match):
    with pytest.raises(RuntimeError, match=match):
        native.SpotSamplingEnv(task, 0, **kw)


@pytest.mark.parametrize("kw, match", [
    (dict(mode="greedy"), "reward mode"), (dict(invalid_action="ignore"), "invalid_action must be"),
    (dict(budget=0.1), "unknown env config key 'budget'"), (dict(weights=(1.0, 2.0)), "weights must be"),
    (dict(max_steps="many"), "'max_steps' got a value of the wrong type"),
])
def test_bad_config_keys_raise_value_error(task, kw, match):
    with pytest.raises(ValueError, match=match):
        native.SpotSamplingEnv(task, 0, **kw)
    with pytest.raises(ValueError, match=match):
        envs.SpotSamplingEnv(task, **kw)


def test_invalid_actions_leave_state_unchanged():
    env = envs.SpotSamplingEnv(synthetic=dict(num_spots=100), budget_ratio=0.1)
    obs, _ = env.reset(seed=0)
    env.step(5)
    before = (env.native.sampled().copy(), env.native.spots_left, list(env.native.history))
    for bad, match in [(5, "action 5 is masked"), (100, "out of range"), (-1, "out of range"), (2.5, "integer")]:
        with pytest.raises(ValueError, match=match):
            env.step(bad)
        assert np.array_equal(env.native.sampled(), before[0]) and env.native.spots_left == before[1]
        assert list(env.native.history) == before[2]
    with pytest.raises(ValueError, match="options"):
        env.reset(options={"budget": 3})
    for a in np.flatnonzero(env.action_masks())[:9]:
        env.step(int(a))
    with pytest.raises(ValueError, match="episode that has ended"):
        env.step(int(np.flatnonzero(env.action_masks())[0]))


def test_batch_actions_and_vector_env_errors(task):
    env = native.SpotSamplingEnv(task, 0, budget_ratio=0.1, picks_per_step=4)
    env.reset()
    with pytest.raises(ValueError, match="exactly 4"):
        env.step([1, 2])
    with pytest.raises(ValueError, match="repeated"):
        env.step([1, 2, 2, 3])
    vec = native.SpotSamplingVecEnv([task], 3, 0, 2, budget_ratio=0.1)
    vec.reset()
    vec.step(torch.tensor([0, 1, 2]))
    snapshot = vec.sampled.clone()
    with pytest.raises(ValueError, match="env 2: action 2 is masked"):
        vec.step(torch.tensor([5, 6, 2]))
    assert torch.equal(vec.sampled, snapshot)
    with pytest.raises(ValueError, match="shape"):
        vec.step(torch.tensor([1, 2]))


def test_gym_make_kwargs_select_mode_budget_weights_and_data(tmp_path, data):
    env = gym.make("stx/SpotSampling-v0", budget_ratio=0.25, mode="faithful", weights=(1.0, 0.0, 0.0),
                   synthetic=dict(num_spots=120))
    obs, info = env.reset(seed=1)
    assert env.unwrapped.native.mode == "faithful" and obs["sampled"].sum() == 10
    assert obs["budget_left"][0] == pytest.approx(2 / 3)
    path = tmp_path / "section.npz"
    np.savez(path, **{k: data[k].numpy() for k in ("features", "coords", "reward_embedding", "cell_embeddings",
                                                    "cell_types", "section_id")})
    env2 = gym.make("stx/SpotSampling-v0", data=str(path))
    assert env2.unwrapped.task.num_spots == 300 and env2.unwrapped.task.num_sections == 2


def test_multibinary_actions_for_k_picks_per_step():
    env = envs.SpotSamplingEnv(synthetic=dict(num_spots=100), budget_ratio=0.1, picks_per_step=4)
    assert isinstance(env.action_space, gym.spaces.MultiBinary)
    env.reset(seed=0)
    pol, steps, done = envs.BaselinePolicy("kcenter"), 0, False
    while not done:
        action = pol.act(env)
        assert action.sum() == env.picks_this_step()
        _, _, done, _, _ = env.step(action)
        steps += 1
    assert steps == 3 and env.native.history.__len__() == 10  # 4 + 4 + 2
    venv = envs.SpotSamplingVectorEnv(num_envs=2, synthetic=dict(num_spots=100), picks_per_step=4)
    obs, _ = venv.reset(seed=1)
    action = np.zeros((2, 100), dtype=np.int8)
    action[:, :4] = 1
    obs, *_ = venv.step(action)
    assert obs["sampled"][:, :4].all() and obs["sampled"].sum() == 8


def test_spot_scoring_policy_shapes_mask_and_equivariance():
    from sb3_contrib import MaskablePPO
    from stx.envs.learned import CONTEXT_NAMES, spot_context

    vec = envs.SpotSamplingSB3VecEnv(num_envs=2, synthetic=dict(num_spots=60), budget_ratio=0.2)
    model = MaskablePPO(envs.SpotScoringPolicy, vec, n_steps=16, batch_size=16, n_epochs=1, seed=0, device="cpu")
    policy = model.policy
    obs = vec.reset()
    for _ in range(3):  # a few picks, so the "nearest sampled spot" inputs are live
        obs, _, _, _ = vec.step(np.array([np.flatnonzero(m)[-1] for m in vec.action_masks()]))
    t = {k: torch.as_tensor(v).float() for k, v in obs.items()}
    x, ctx = spot_context(t)
    assert x.shape == (2, 60, t["features"].shape[-1]) and ctx.shape == (2, 60, len(CONTEXT_NAMES))
    assert torch.isfinite(ctx).all()
    fx = policy.features_extractor
    out = fx(t)
    assert out.shape == (2, fx.features_dim) and fx.features_dim == 60 + 2 * fx.hidden + 1
    # Untrained: equal scores, i.e. uniform over the valid spots.
    assert torch.allclose(out[:, :60], torch.zeros(2, 60))
    masks = vec.action_masks()
    dist = policy.get_distribution(t, action_masks=masks)
    probs = dist.distribution.probs
    assert torch.all(probs[~torch.as_tensor(masks)] == 0)
    assert torch.allclose(probs[0][torch.as_tensor(masks[0])], torch.full((57,), 1 / 57))
    # Trained or not, the scores are permutation-equivariant and masked actions are never chosen.
    with torch.no_grad():
        for p in fx.parameters():
            p.add_(0.3 * torch.randn_like(p))
    perm = torch.randperm(60)
    permuted = {k: (v[:, perm] if v.dim() > 1 and v.shape[1] == 60 else v) for k, v in t.items()}
    assert torch.allclose(fx(permuted)[:, :60], fx(t)[:, :60][:, perm], rtol=1e-4, atol=1e-3)
    action, _ = model.predict(obs, action_masks=masks, deterministic=True)
    assert all(masks[i, a] for i, a in enumerate(action))
    values = policy.predict_values(t)
    assert values.shape == (2, 1)


def test_train_sampler_sb3_script_smoke():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "train_sampler_sb3.py"
    spec = importlib.util.spec_from_file_location("train_sampler_sb3", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    threads = torch.get_num_threads()
    try:
        res = script.main(["--seeds", "2", "--timesteps", "64", "--num-spots", "60", "--num-envs", "2",
                           "--n-steps", "16", "--batch-size", "16", "--epochs", "1", "--train-sections", "2",
                           "--test-sections", "1", "--eval-episodes", "2"])
    finally:
        torch.set_num_threads(threads)
    assert len(res["maskable_ppo_per_seed"]) == len(res["random_per_seed"]) == 2
    assert np.isfinite([res["maskable_ppo"], res["maskable_ppo_sd"], res["random"], res["random_sd"]]).all()
    assert set(res["baselines"]) == set(envs.BASELINE_POLICIES[1:])


# ---------------------------------------------------------------- config from C++, round size, threads, validation
def test_python_defaults_are_the_cpp_defaults():
    import inspect

    from env_reference import IncrementalReference

    cpp = envs.EnvConfig().as_dict()
    assert list(cpp) == list(envs.EnvConfig.keys())
    assert cpp["budget_ratio"] == 0.1 and cpp["mode"] == "marginal" and cpp["invalid_action"] == "raise"
    assert envs.env_config().as_dict() == cpp
    for fn in (envs.env_config, envs.SpotSamplingEnv, envs.SpotSamplingVectorEnv):  # no default restated
        params = inspect.signature(fn).parameters
        assert not set(params) & set(cpp) and any(p.kind is p.VAR_KEYWORD for p in params.values())
    assert envs.SpotSamplingEnv(synthetic=dict(num_spots=40)).config.as_dict() == cpp
    assert envs.SpotSamplingVectorEnv(num_envs=2, synthetic=dict(num_spots=40)).config.as_dict() == cpp
    for cls in (ReferenceSpotSampling, IncrementalReference):
        ref = inspect.signature(cls).parameters
        assert ref["budget_ratio"].default == cpp["budget_ratio"] and ref["weights"].default == cpp["weights"]
    # The native constructors take an EnvConfig and/or keyword overrides.
    task = envs.synthetic_task(num_spots=40)
    cfg = envs.env_config(budget_ratio=0.3, mode="faithful")
    assert native.SpotSamplingEnv(task, 0, cfg).config.as_dict() == cfg.as_dict()
    assert native.SpotSamplingEnv(task, 0, cfg, max_steps=3).config.max_steps == 3


def test_faithful_round_size_is_the_reference_value():
    # The published code's per-round ratio rho / 3 is a float first; N times it is truncated.
    for rho in (0.1, 0.15, 0.25, 0.3, 0.5, 0.75, 1.0):
        for n in range(1, 3001):
            assert native.faithful_round_size(n, rho) == max(1, int(n * (rho / 3))), (n, rho)
    assert native.faithful_round_size(120, 0.3) == 11  # floor(0.3 * 120 / 3 + 1e-9) gave 12
    env = envs.SpotSamplingEnv(synthetic=dict(num_spots=120), budget_ratio=0.3, mode="faithful")
    obs, _ = env.reset(seed=0)
    assert env.native.round_size == 11 and obs["sampled"].sum() == 11 and env.native.budget_total == 33
    # N * rho / 3 < 1: the reference's max(1, .) gives one spot a round, 3 in all (above rho * N = 2.4)
    small = envs.SpotSamplingEnv(synthetic=dict(num_spots=120), budget_ratio=0.02, mode="faithful")
    small.reset(seed=0)
    assert small.native.round_size == 1 and small.native.budget_total == 3


@pytest.mark.parametrize("vector", [False, True])
def test_one_env_stepped_from_two_threads_is_rejected_not_raced(vector):
    import threading

    if vector:
        env = envs.SpotSamplingVectorEnv(envs.synthetic_task(num_spots=400, seed=3), 8, seed=0, budget_ratio=0.5)
        env.reset(seed=0)
        n, step = 400, (lambda rng: env.step(rng.integers(0, n, size=8)))
    else:
        # 50 picks per step: each step spends a while in C++ (GIL released), so the threads overlap.
        env = envs.SpotSamplingEnv(synthetic=dict(num_spots=4000), budget_ratio=1.0, picks_per_step=50)
        env.reset(seed=0)
        n = 4000

        def step(rng):
            a = np.zeros(n, dtype=np.int8)
            a[rng.choice(n, 50, replace=False)] = 1
            env.step(a)
    rejected, errors = [], []

    def body(t):
        rng = np.random.default_rng(t)
        for _ in range(400):
            try:
                step(rng)
            except envs.ConcurrentUseError as e:
                rejected.append(str(e))
            except ValueError:
                pass  # a spot the other thread took, or an ended episode: ordinary invalid actions
            except Exception as e:  # noqa: BLE001
                errors.append(e)

    for _ in range(20):  # overlap is likely in one round, certain over many
        threads = [threading.Thread(target=body, args=(t,)) for t in range(2)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        if rejected:
            break
        env.reset(seed=0)
    assert not errors, errors
    assert rejected and "already in use by another thread" in rejected[0]
    assert issubclass(envs.ConcurrentUseError, RuntimeError)
    env.reset(seed=1)  # still usable


def test_shared_thread_crasher_is_fixed():
    import subprocess
    import sys
    from pathlib import Path

    crasher = Path(__file__).resolve().parents[3] / "shared" / "crashers" / "env_vec_same_env_two_threads.py"
    if not crasher.is_file():
        pytest.skip(f"crasher not present at {crasher}")
    for _ in range(3):
        r = subprocess.run([sys.executable, str(crasher)], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0 and "no crash" in r.stdout, r.stdout + r.stderr


def test_actions_are_validated_not_truncated():
    env = envs.SpotSamplingEnv(synthetic=dict(num_spots=60), budget_ratio=0.3, picks_per_step=2)
    env.reset(seed=0)
    base = np.zeros(60, dtype=np.int8)
    base[[3, 4]] = 1
    for bad, match in [(2, "only 0 and 1"), (-1, "only 0 and 1"), (np.nan, "not exact integers"),
                       (0.5, "not exact integers")]:
        a = base.astype(np.float64)
        a[7] = bad
        with pytest.raises(ValueError, match=match):
            env.step(a)
    with pytest.raises(ValueError, match="MultiBinary\\(60\\)"):
        env.step(base[:59])
    assert env.native.elapsed_steps == 0
    _, _, _, _, info = env.step(base.astype(np.float32))  # a policy's float 0./1.: exact, accepted
    assert not info["invalid_action"] and env.native.history[-2:] == [3, 4]
    single = envs.SpotSamplingEnv(synthetic=dict(num_spots=60))
    single.reset(seed=0)
    for bad in (2.5, np.nan, np.float64(1e20), np.True_):
        with pytest.raises(ValueError):
            single.step(bad)
    single.step(np.float64(7.0))  # an exact integer is not truncated: accepted as 7
    assert single.native.history == [7]

    venv = envs.SpotSamplingVectorEnv(num_envs=3, synthetic=dict(num_spots=60))
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="not exact integers"):
        venv.step(np.array([1.0, 2.7, 3.0]))  # was truncated to [1, 2, 3]
    assert venv.native.elapsed_steps.sum() == 0
    for mask, match in [(np.array([True, False]), r"reset_mask must have shape \(3,\)"),
                        (np.array([1, 2, 0]), "booleans"), (np.array([0.5, 0, 0]), "not exact integers")]:
        with pytest.raises(ValueError, match=match):
            venv.reset(options={"reset_mask": mask})
    venv_k = envs.SpotSamplingVectorEnv(num_envs=2, synthetic=dict(num_spots=60), picks_per_step=3, budget_ratio=0.3)
    venv_k.reset(seed=0)
    rows = np.zeros((2, 60), dtype=np.int8)
    rows[:, :3] = 1
    rows[1, 10] = 1  # four ones where the step takes three: was cut to the first three
    with pytest.raises(ValueError, match="env 1 must pick exactly 3"):
        venv_k.step(rows)
    rows[1, 10] = 2
    with pytest.raises(ValueError, match="only 0 and 1"):
        venv_k.step(rows)
