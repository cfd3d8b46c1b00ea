"""The thesis's own numbers, copied as printed from its chapter 5, so every table can show them beside ours.

Values are strings exactly as the thesis prints them ("N/A" is the thesis's divergence mark; "—"
marks a cell the thesis left blank). Keys are the settings' names (``chapter5``) and ``optim=``
choices. Tables read them through ``registry.thesis_number``, which answers "—" for a cell not here.
"""

# Table 5.1 (§5.3.1): epochs until convergence, budget 2000. LBFGS is the "ideal" mode (several
# function evaluations per step with backtracking). The thesis left KryBall on U[0, 1] blank.
TABLE_5_1 = {
    "rosenbrock_u11": {"msgd": "248", "adam": "249", "lbfgs": "5", "kryball": "5"},
    "rosenbrock_u01": {"msgd": "624", "adam": "981", "lbfgs": "5", "kryball": "—"},
    "rosenbrock_u03": {"msgd": "1587", "adam": "1978", "lbfgs": "5", "kryball": "13"},
    "rahimi_recht_k10": {"msgd": "94", "adam": "242", "lbfgs": "6", "kryball": "16"},
    "rahimi_recht_k1e5": {"msgd": "N/A", "adam": "1720", "lbfgs": "N/A", "kryball": "52"},
}

# §5.3.2 and the caption of Fig. 5.3: epochs until XOR converges, budget 100; LBFGS restricted
# to one function evaluation per epoch (our optim=lbfgs_single).
XOR = {"xor": {"msgd": "63", "adam": "67", "lbfgs_single": "20", "kryball": "15"}}

# Table 5.2 (§5.3.3): final training loss, peak and final test accuracy after 100 (MNIST-1D) or
# 40 (CIFAR-10) epochs. No LBFGS on these tasks (§5.3.3: "too expensive").
TABLE_5_2 = {
    "mnist1d": {
        "adam": {"final_train_loss": "0.144", "peak_test_acc": "0.668", "final_test_acc": "0.668"},
        "msgd": {"final_train_loss": "0.326", "peak_test_acc": "0.669", "final_test_acc": "0.644"},
        "kryball": {"final_train_loss": "0.001", "peak_test_acc": "0.685", "final_test_acc": "0.685"},
    },
    "cifar10_cnn": {
        "adam": {"final_train_loss": "0.099", "peak_test_acc": "0.782", "final_test_acc": "0.777"},
        "msgd": {"final_train_loss": "0.111", "peak_test_acc": "0.777", "final_test_acc": "0.771"},
        "kryball": {"final_train_loss": "0.135", "peak_test_acc": "0.783", "final_test_acc": "0.762"},
    },
    "cifar10_resnet": {
        "adam": {"final_train_loss": "7.5e-5", "peak_test_acc": "0.843", "final_test_acc": "0.842"},
        "msgd": {"final_train_loss": "1e-4", "peak_test_acc": "0.832", "final_test_acc": "0.829"},
        "kryball": {"final_train_loss": "0.002", "peak_test_acc": "0.832", "final_test_acc": "0.822"},
    },
}

PRINTED = {**TABLE_5_1, **XOR, **TABLE_5_2}  # every setting the thesis printed numbers for
