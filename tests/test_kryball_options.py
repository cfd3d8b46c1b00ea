"""KryBall's options beyond the thesis (kryball/options.py): each changes the step as documented, all off is
the thesis step, the hybrid switch fires when (and only when) its criterion is met, bad
combinations are refused, and every option survives a state_dict round trip."""

import io
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from kryball import BEYOND_THESIS, HYPERPARAMETERS, KryBall
from kryball.first_order import denominator, direction, update_moments
from kryball.preconditioning import krylov_direction
from kryball.reference import ReferenceKryBall, dense_arnoldi, gram_schmidt
from kryball.saddle_free import sfn_direction
from kryball.trust_region import SHRINK_BELOW, solve_subproblem

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


def expected_refresh_step(x, opt, extras, krylov_dim, scale=None):
    """The documented refresh step, densely: Krylov basis (of D⁻¹H, D⁻¹g with ``scale``), saddle-free
    direction, subspace {g, z, d, *extras}, the trust-region solution at the current radius."""
    g, H = dense(x)
    if scale is None:
        Q = dense_arnoldi(H, g, krylov_dim)
        y, _ = sfn_direction(Q.T @ H @ Q, Q.T @ g, opt.defaults["eig_clip"])
        d = Q @ y
    else:
        S = torch.diag(scale)
        Qs = dense_arnoldi(S @ H @ S, S @ g, krylov_dim)
        ys, _ = sfn_direction(Qs.T @ S @ H @ S @ Qs, Qs.T @ S @ g, opt.defaults["eig_clip"])
        d = S @ Qs @ ys
    z = opt.state[x]["momentum"].clone()
    X = gram_schmidt([g, z, d, *extras])
    alpha = solve_subproblem(X.T @ H @ X, X.T @ g, opt.state[x]["radius"]).step
    return X @ alpha


def test_all_options_off_is_the_thesis_step_bit_for_bit():
    plain, _ = run(start(), 12)
    off, _ = run(start(), 12, **BEYOND_THESIS, adam_betas=(0.5, 0.6), adam_eps=1.0)
    assert torch.equal(plain.param_groups[0]["params"][0], off.param_groups[0]["params"][0])
    assert "adam_m" not in off.state[off.param_groups[0]["params"][0]]  # nothing Adam is kept when unused


@pytest.mark.parametrize("name", ["adam", "previous_step"])
def test_an_extra_direction_joins_the_refresh_subspace(name):
    x = start()
    opt, _ = run(x, 4, refresh=1, krylov_dim=2, directions=(name,))  # every step a refresh step
    state = opt.state[x]
    extra = (direction(state, opt.defaults["adam_betas"], opt.defaults["adam_eps"]) if name == "adam"
             else state["previous_step"])
    # The next step's extra direction: Adam's moments take the next gradient first.
    if name == "adam":
        state_copy = {k: (v.clone() if torch.is_tensor(v) else v) for k, v in state.items()}
        update_moments(state_copy, dense(x)[0], opt.defaults["adam_betas"])
        extra = direction(state_copy, opt.defaults["adam_betas"], opt.defaults["adam_eps"])
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


def test_the_adam_preconditioner_builds_the_krylov_space_of_D_inverse_H():
    x = start(1)
    opt, _ = run(x, 3, refresh=1, krylov_dim=3, preconditioner="adam")
    state = opt.state[x]
    g, _ = dense(x)
    state_copy = {k: (v.clone() if torch.is_tensor(v) else v) for k, v in state.items()}
    update_moments(state_copy, g, opt.defaults["adam_betas"])
    scale = denominator(state_copy, opt.defaults["adam_betas"], opt.defaults["adam_eps"]).rsqrt()
    expected = expected_refresh_step(x, opt, [], krylov_dim=3, scale=scale)
    plain = expected_refresh_step(x, opt, [], krylov_dim=3)
    opt.step(lambda: quartic(x))
    torch.testing.assert_close(opt.vectors["step"], expected, rtol=1e-6, atol=1e-9)
    assert (expected - plain).norm() > 1e-3 * plain.norm()


def test_krylov_direction_spans_D_inverse_H_and_maps_the_direction_back():
    g, H = dense(start(2))
    scale = torch.linspace(0.2, 3.0, N, dtype=torch.float64)
    D_inv = torch.diag(scale ** 2)
    krylov = krylov_direction(lambda v: H @ v, g, 3, 1e-4, scale)
    Q = krylov.basis
    torch.testing.assert_close(Q.T @ Q, torch.eye(3, dtype=torch.float64))
    for k in range(3):  # (D⁻¹H)ᵏ D⁻¹g lies in span(Q)
        v = torch.linalg.matrix_power(D_inv @ H, k) @ D_inv @ g
        assert (v - Q @ (Q.T @ v)).norm() < 1e-10 * v.norm()
    torch.testing.assert_close(krylov.curvature, Q.T @ H @ Q)
    # With the whole space, the direction is saddle-free Newton in the metric D: −S|SHS|⁻¹Sg.
    full = krylov_direction(lambda v: H @ v, g, N, 0.0, scale)
    S = torch.diag(scale)
    eigenvalues, V = torch.linalg.eigh(S @ H @ S)
    exact = -S @ V @ ((V.T @ S @ g) / eigenvalues.abs())
    torch.testing.assert_close(full.basis @ full.coordinates, exact)
    unscaled = krylov_direction(lambda v: H @ v, g, 3, 1e-4)
    assert not torch.allclose(unscaled.basis @ unscaled.coordinates, krylov.basis @ krylov.coordinates)


def test_momentum_from_steps_averages_the_steps_taken():
    x = start()
    opt = KryBall([x], momentum=0.5, momentum_from="steps")
    z = torch.zeros(N, dtype=torch.float64)
    for _ in range(6):
        opt.step(lambda: quartic(x))
        taken = opt.vectors["step"] if opt.last_step.accepted else torch.zeros(N, dtype=torch.float64)
        z = 0.5 * z + taken
        torch.testing.assert_close(opt.vectors["momentum"], z)


def saddle(x):
    """x² − y² + y⁴/4 (minima at y = ±√2): from near the saddle a long step overshoots."""
    return x[0] ** 2 - x[1] ** 2 + x[1] ** 4 / 4


def test_fallback_takes_a_first_order_step_capped_at_the_radius():
    def first_step(**options):
        x = torch.nn.Parameter(torch.tensor([0.3, 0.1], dtype=torch.float64))
        opt = KryBall([x], initial_radius=1000.0, **options)  # the first step goes far and is rejected
        opt.step(lambda: saddle(x))
        return x.detach(), opt.last_step

    x0 = torch.tensor([0.3, 0.1], dtype=torch.float64)
    g = torch.func.grad(saddle)(x0)
    x, info = first_step()
    assert info.status == "rejected" and torch.equal(x, x0)
    x, info = first_step(fallback=True, first_order="sgd", first_order_lr=0.1)
    assert info.status == "fallback" and not info.accepted
    torch.testing.assert_close(x, x0 - 0.1 * g)
    x, info = first_step(fallback=True, first_order="sgd", first_order_lr=1e6)
    assert info.status == "fallback"
    torch.testing.assert_close((x - x0).norm().item(), info.radius)  # shortened to the shrunk radius
    torch.testing.assert_close((x - x0) / (x - x0).norm(), -g / g.norm())


@pytest.mark.parametrize("first_order_lr", [0.01, None])
def test_interleave_takes_first_order_steps_between_kryball_steps(first_order_lr):
    """With a learning rate a first-order step is −lr·g; without one, a step as long as the radius that KryBall's
    last trust-region step left, which the first-order step leaves as it is."""
    x = start()
    opt = KryBall([x], interleave=3, first_order="sgd", first_order_lr=first_order_lr)
    radius, statuses = opt.defaults["initial_radius"], []
    radii = [radius]
    for _ in range(9):
        before = x.detach().clone()
        g = torch.func.grad(quartic)(before)
        opt.step(lambda: quartic(x))
        statuses.append(opt.last_step.status)
        if opt.last_step.status == "first-order":
            expected = 0.01 * g if first_order_lr else radius * g / g.norm()
            torch.testing.assert_close(x.detach(), before - expected)
            assert opt.last_step.hvps == 0 and opt.last_step.radius == radius
        radius = opt.last_step.radius
        radii.append(radius)
    assert [s == "first-order" for s in statuses] == [False, True, True] * 3
    assert opt.totals["hvps"] > 0 and opt.totals["gradient_evals"] == 9
    if first_order_lr is None:  # KryBall's steps moved the radius: the lengths checked were not all Δ₀
        assert len(set(radii)) > 1


def test_fallback_without_a_learning_rate_steps_to_the_shrunk_radius():
    x = torch.nn.Parameter(torch.tensor([0.3, 0.1], dtype=torch.float64))
    x0 = x.detach().clone()
    g = torch.func.grad(saddle)(x0)
    opt = KryBall([x], initial_radius=1000.0, fallback=True, first_order="sgd")  # the first step is rejected
    opt.step(lambda: saddle(x))
    assert opt.last_step.status == "fallback" and opt.last_step.radius == 250.0
    torch.testing.assert_close(x.detach(), x0 - 250.0 * g / g.norm())


def test_hybrid_switch_fires_once_the_gradient_norm_is_below_the_threshold_and_not_before():
    x = start()
    ratio = 0.02
    opt = KryBall([x], switch_grad_ratio=ratio, first_order="adam", first_order_lr=1e-3)
    norms, statuses = [], []
    for _ in range(40):
        norms.append(torch.func.grad(quartic)(x.detach()).norm().item())
        opt.step(lambda: quartic(x))
        statuses.append(opt.last_step.status)
    first = next(i for i, s in enumerate(statuses) if s == "first-order")
    threshold = ratio * norms[0]
    assert all(n >= threshold for n in norms[:first]) and norms[first] < threshold
    assert all(s == "first-order" for s in statuses[first:])
    assert 2 < first < 39  # KryBall ran first; the switch happened within the run


def test_adaptive_refresh_rebuilds_the_basis_after_a_poor_model_on_an_old_one():
    def rosenbrock(xy):
        return (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2

    for adaptive in (False, True):
        xy = torch.nn.Parameter(torch.tensor([-1.5, 2.0], dtype=torch.float64))
        opt = KryBall([xy], krylov_dim=1, refresh=1000, adaptive_refresh=adaptive)
        infos = []
        for _ in range(30):
            opt.step(lambda: rosenbrock(xy))
            infos.append(opt.last_step)
        poor = [i for i, info in enumerate(infos[:-1]) if not info.refreshed and info.rho is not None
                and info.rho < SHRINK_BELOW]
        assert poor  # the scenario happens
        assert [i for i, info in enumerate(infos) if info.refreshed and i > 0] == ([i + 1 for i in poor]
                                                                                   if adaptive else [])


@pytest.mark.parametrize("options, name", [
    (dict(directions=("adam", "newton")), "directions"),
    (dict(directions=("adam", "adam")), "directions"),
    (dict(momentum_from="adam"), "momentum_from"),
    (dict(preconditioner="shampoo"), "preconditioner"),
    (dict(adam_betas=(0.9, 1.0)), "adam_betas"),
    (dict(first_order="lbfgs", first_order_lr=0.1), "first_order"),
    (dict(fallback=True), "fallback"),
    (dict(switch_grad_ratio=1e-3), "switch_grad_ratio"),
    (dict(switch_grad_ratio=1.5, first_order="sgd", first_order_lr=0.1), "switch_grad_ratio"),
    (dict(interleave=4), "interleave"),
    (dict(interleave=0, first_order="sgd", first_order_lr=0.1), "interleave"),
    (dict(first_order_lr=0.1), "first_order_lr"),
])
def test_bad_or_contradictory_options_name_the_option(options, name):
    with pytest.raises(ValueError, match=name):
        KryBall([start()], **options)


ALL_ON = dict(directions=("adam", "previous_step"), momentum_from="steps", preconditioner="adam", first_order="adam",
              first_order_lr=1e-3, fallback=True, switch_grad_ratio=1e-3, interleave=2, adaptive_refresh=True,
              refresh=2, krylov_dim=2)


def test_every_option_round_trips_through_state_dict():
    x = start()
    opt, _ = run(x, 5, **ALL_ON)
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    x2 = torch.nn.Parameter(x.detach().clone())
    opt2 = KryBall([x2], **{**ALL_ON, "directions": (), "momentum_from": "gradients", "interleave": None,
                            "preconditioner": None, "fallback": False, "adaptive_refresh": False})
    opt2.load_state_dict(torch.load(buffer, weights_only=True))
    assert {k: opt2.param_groups[0][k] for k in ALL_ON} == ALL_ON
    for _ in range(6):
        opt.step(lambda: quartic(x))
        opt2.step(lambda: quartic(x2))
        assert opt.last_step == opt2.last_step
    assert torch.equal(x, x2)


def test_a_state_saved_before_the_options_existed_continues_on_the_thesis_schedule():
    x = start()
    opt, _ = run(x, 4, refresh=3)
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)  # a copy: state_dict() shares the live state's tensors
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    for key in ("since_refresh", "poor_model", "switched"):
        del saved["state"][0][key]
    x2 = torch.nn.Parameter(x.detach().clone())
    opt2 = KryBall([x2], refresh=3)
    opt2.load_state_dict(saved)
    for _ in range(5):
        opt.step(lambda: quartic(x))
        opt2.step(lambda: quartic(x2))
        assert opt.last_step == opt2.last_step
    assert torch.equal(x, x2)


# A value that turns each option beyond the thesis on (with what it needs).
FIRST_ORDER_SGD = dict(first_order="sgd", first_order_lr=0.1)
TURNED_ON = dict(reuse_curvature=dict(reuse_curvature=True), directions=dict(directions=("previous_step",)),
                 momentum_from=dict(momentum_from="steps"), preconditioner=dict(preconditioner="adam"),
                 first_order=FIRST_ORDER_SGD, fallback=dict(fallback=True, **FIRST_ORDER_SGD),
                 switch_grad_ratio=dict(switch_grad_ratio=0.5, **FIRST_ORDER_SGD),
                 interleave=dict(interleave=2, **FIRST_ORDER_SGD), adaptive_refresh=dict(adaptive_refresh=True),
                 curvature_batch=dict(curvature_batch=4))


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
        options = {key: value for key, value in cfg.items() if key not in ("_target_", "_partial_", "name", "defaults")}
        opt = KryBall([start()], **options)
        for key, value in options.items():
            expected = tuple(value) if OmegaConf.is_list(value) else value
            assert opt.defaults[key] == expected and type(opt.defaults[key]) is type(expected), key
    assert set(options) == set(HYPERPARAMETERS)  # kryball_plus names every option
    assert opt.defaults["directions"] == ("adam", "previous_step") and opt.defaults["curvature_batch"] == 128
