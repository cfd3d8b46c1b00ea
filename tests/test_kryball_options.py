"""KryBall's options beyond the thesis (kryball/options.py): each changes the step as documented, all off is
the thesis step, bad combinations are refused, and every option survives a state_dict round trip."""

import io
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from kryball import BEYOND_THESIS, HYPERPARAMETERS, KryBall
from kryball.reference import ReferenceKryBall, dense_arnoldi, gram_schmidt
from kryball.saddle_free import sfn_direction
from kryball.state import AdamMoments
from kryball.subspace import adam_direction, update_moments
from kryball.trust_region import solve_subproblem

N = 6
MIXING = torch.randn(N, N, dtype=torch.float64, generator=torch.Generator().manual_seed(7)) / N ** 0.5


def quartic(x):
    """A smooth nonconvex function of six variables with saddles, coupled by a fixed matrix."""
    y = MIXING @ x
    return (y ** 4).sum() / 4 - (y[:3] ** 2).sum() + (x ** 2).sum() / 2 + x.sum() / 3


def start(seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.nn.Parameter(torch.randn(N, dtype=torch.float64, generator=generator))


def run(x, steps, **options):
    opt = KryBall([x], **options)
    infos = []
    for _ in range(steps):
        opt.step(lambda: quartic(x))
        infos.append(opt.last_step)
    return opt, infos


def dense(x):
    theta = x.detach().clone()
    g = torch.func.grad(quartic)(theta)
    H = torch.autograd.functional.hessian(quartic, theta)
    return g, (H + H.T) / 2


def expected_refresh_step(x, opt, extras, krylov_dim):
    """The documented refresh step, densely: Krylov basis, saddle-free direction, subspace {g, z, d, *extras},
    the trust-region solution at the current radius."""
    g, H = dense(x)
    Q = dense_arnoldi(H, g, krylov_dim)
    y, _ = sfn_direction(Q.T @ H @ Q, Q.T @ g, opt.defaults["eig_clip"])
    z = opt.flat_state.momentum.clone()
    X = gram_schmidt([g, z, Q @ y, *extras])
    alpha = solve_subproblem(X.T @ H @ X, X.T @ g, opt.flat_state.radius).step
    return X @ alpha


def test_all_options_off_is_the_thesis_step_bit_for_bit():
    plain, _ = run(start(), 12)
    off, _ = run(start(), 12, **BEYOND_THESIS, adam_betas=(0.5, 0.6), adam_eps=1.0)
    assert torch.equal(plain.param_groups[0]["params"][0], off.param_groups[0]["params"][0])
    assert off.flat_state.adam is None and "adam_m" not in off.state_dict()["state"][0]  # nothing Adam unused


@pytest.mark.parametrize("name", ["adam", "previous_step"])
def test_an_extra_direction_joins_the_refresh_subspace(name):
    x = start()
    opt, _ = run(x, 4, refresh=1, krylov_dim=2, directions=(name,))  # every step a refresh step
    state = opt.flat_state
    extra = state.previous_step
    if name == "adam":  # the next step's direction: Adam's moments take the next gradient first
        moments = AdamMoments(state.adam.m.clone(), state.adam.v.clone(), state.adam.t)
        copy = type(state)(**{**vars(state), "adam": moments})
        update_moments(copy, dense(x)[0], opt.defaults["adam_betas"])
        extra = adam_direction(copy.adam, opt.defaults["adam_betas"], opt.defaults["adam_eps"])
    expected = expected_refresh_step(x, opt, [extra], krylov_dim=2)
    thesis = expected_refresh_step(x, opt, [], krylov_dim=2)
    before = x.detach().clone()
    opt.step(lambda: quartic(x))
    assert opt.last_step.subspace_dim == 4
    assert opt.last_step.hvps == 2 + 2  # Lanczos (M = 2) + momentum + the extra direction
    torch.testing.assert_close(opt.vectors["step"], expected, rtol=1e-7, atol=1e-10)
    assert (expected - thesis).norm() > 1e-3 * thesis.norm()  # the extra direction mattered
    if opt.last_step.accepted:
        torch.testing.assert_close(x.detach(), before + expected, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("options, name", [
    (dict(directions=("adam", "newton")), "directions"),
    (dict(directions=("adam", "adam")), "directions"),
    (dict(adam_betas=(0.9, 1.0)), "adam_betas"),
    (dict(curvature="fisher"), "curvature"),
    (dict(krylov_tol=1.0), "krylov_tol"),
])
def test_bad_or_contradictory_options_name_the_option(options, name):
    with pytest.raises(ValueError, match=name):
        KryBall([start()], **options)


ALL_ON = dict(directions=("adam", "previous_step"), krylov_tol=0.5, reuse_curvature=True, curvature_batch=0.5,
              refresh=2, krylov_dim=3)


def test_every_option_round_trips_through_state_dict():
    x = start()
    opt, _ = run(x, 5, **ALL_ON)
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    x2 = torch.nn.Parameter(x.detach().clone())
    opt2 = KryBall([x2], **{**ALL_ON, "directions": (), "krylov_tol": None, "reuse_curvature": False})
    opt2.load_state_dict(torch.load(buffer, weights_only=True))
    assert {k: opt2.param_groups[0][k] for k in ALL_ON} == ALL_ON
    for _ in range(6):
        opt.step(lambda: quartic(x))
        opt2.step(lambda: quartic(x2))
        assert opt.last_step == opt2.last_step
    assert torch.equal(x, x2)


# A value that turns each option beyond the thesis on.
TURNED_ON = dict(krylov_tol=dict(krylov_tol=0.1), reuse_curvature=dict(reuse_curvature=True),
                 directions=dict(directions=("previous_step",)), curvature_batch=dict(curvature_batch=4),
                 curvature=dict(curvature="gauss_newton"))


def test_the_reference_refuses_exactly_the_options_beyond_the_thesis():
    assert set(BEYOND_THESIS) == set(TURNED_ON)  # a new option beyond the thesis needs a line in TURNED_ON
    for name, options in TURNED_ON.items():
        with pytest.raises(ValueError, match=f"ReferenceKryBall implements the thesis algorithm: .*{name}"):
            ReferenceKryBall(quartic, start().detach(), **options)
    # Settings of the thesis algorithm, and the option settings that change nothing while the options are off.
    ReferenceKryBall(quartic, start().detach(), **BEYOND_THESIS, max_retries=2, batched_hvps=True, adam_eps=1.0)


CONF_OPTIM = Path(__file__).resolve().parents[1] / "conf" / "optim"


def test_every_key_of_the_hydra_configs_constructs_kryball():
    """Hydra instantiates ``kryball.KryBall`` with these keys as keyword arguments (lists as ListConfig)."""
    kryball = OmegaConf.load(CONF_OPTIM / "kryball.yaml")
    kryball_plus = OmegaConf.merge(kryball, OmegaConf.load(CONF_OPTIM / "kryball_plus.yaml"))
    for cfg in (kryball, kryball_plus):
        options = {key: value for key, value in cfg.items()
                   if key not in ("_target_", "_partial_", "name", "defaults", "suite")}
        opt = KryBall([start()], **options)
        for key, value in options.items():
            expected = tuple(value) if OmegaConf.is_list(value) else value
            assert opt.defaults[key] == expected and type(opt.defaults[key]) is type(expected), key
    assert set(options) == set(HYPERPARAMETERS)  # kryball_plus names every option
    assert opt.defaults["directions"] == ("adam", "previous_step") and opt.defaults["curvature_batch"] == 128


def test_an_adaptive_krylov_dimension_grows_until_the_model_settles():
    """``krylov_tol``: the basis stops at the first m ≥ 2 whose vector added at most tol of the decrease the
    trust-region model predicts within the Krylov space (computed here densely), or at the cap ``krylov_dim``."""
    from kryball.krylov import lanczos
    from kryball.trust_region import predicted_reduction
    x, tol, cap = start(3), 0.05, 6
    opt = KryBall([x], krylov_dim=cap, krylov_tol=tol, refresh=1)
    chosen = []
    for _ in range(8):
        g, H = dense(x)
        radius = opt.flat_state.radius if opt.flat_state is not None else opt.defaults["initial_radius"]
        _, T = lanczos(lambda v: H @ v, g, cap)
        decreases = []
        for j in range(1, T.shape[0] + 1):
            c = torch.zeros(j, dtype=torch.float64)
            c[0] = g.norm()
            decreases.append(predicted_reduction(T[:j, :j], c, solve_subproblem(T[:j, :j], c, radius).step))
        expected = next((j for j in range(2, len(decreases) + 1)
                         if decreases[j - 1] - decreases[j - 2] <= tol * decreases[j - 1]), len(decreases))
        opt.step(lambda: quartic(x))
        assert opt.last_step.krylov_dim == expected
        chosen.append(expected)
    assert len(set(chosen)) > 1  # the dimension moved with the point and the radius
    fixed = KryBall([start(3)], krylov_dim=cap, refresh=1)
    fixed.step(lambda: quartic(fixed.param_groups[0]["params"][0]))
    assert fixed.last_step.krylov_dim == cap  # without krylov_tol: the thesis's fixed M
