"""The closing line of a run: where it stands against the committed tuned results (suite/standing.py)."""

import json

from suite.record import RunSummary
from suite.standing import standing_lines

MNIST1D = {"_target_": "tasks.mnist1d.MNIST1D", "name": "mnist1d", "batch_size": 512, "num_samples": 5000,
           "validation_fraction": 0.1, "split_seed": 0}


def write_results(folder, optim, seeds, task=MNIST1D, epochs=100, protocol="robust"):
    data = {"format": 1, "protocol": protocol, "spec": f"sweeps/mnist1d/{optim}.yaml",
            "use": f"python train.py experiment=table5_2_mnist1d_mlp optim={optim} +tuned=mnist1d_{optim}",
            "seeds": seeds, "setting": {"task": task, "epochs": epochs}}
    (folder / f"mnist1d_{optim}.results.json").write_text(json.dumps(data))


def run_summary(optim="kryball_plus", task=MNIST1D, epochs=100, **outcomes):
    return RunSummary(task=task["name"], optim=optim, model="mlp", seed=0, status="completed",
                      config={"task": task, "epochs": epochs}, **outcomes)


def test_a_run_is_placed_beside_the_tuned_optimisers_of_its_task_and_budget(tmp_path):
    write_results(tmp_path, "adam", [{"seed": s, "final_test_acc": a} for s, a in ((1, 0.60), (2, 0.62), (3, 0.64))])
    write_results(tmp_path, "msgd", [{"seed": 1, "final_test_acc": 0.65}])
    write_results(tmp_path, "kryball_plus", [{"seed": 1, "final_test_acc": 0.99}])  # the run's own optimiser
    write_results(tmp_path, "soap", [{"seed": 1, "final_test_acc": 0.5}], epochs=20)  # another budget
    write_results(tmp_path, "muon", [{"seed": 1, "final_test_acc": 0.5}], protocol="thesis")  # another protocol
    [line] = standing_lines(run_summary(final_test_acc=0.672), tmp_path)
    assert "this run: 0.672" in line and "over 3 seeds each" in line
    assert "Adam 0.620 ± 0.020" in line and "MSGD 0.650" in line
    assert "KryBall+" not in line and "SOAP" not in line and "Muon" not in line


def test_nothing_is_printed_without_a_matching_record(tmp_path):
    assert standing_lines(run_summary(final_test_acc=0.6), tmp_path) == []
    write_results(tmp_path, "adam", [{"seed": 1, "final_test_acc": 0.6}], task={**MNIST1D, "batch_size": 64})
    assert standing_lines(run_summary(final_test_acc=0.6), tmp_path) == []


def test_a_function_task_is_placed_by_convergence(tmp_path):
    task = {"_target_": "tasks.rosenbrock.Rosenbrock", "name": "rosenbrock", "noise_low": 1.0, "noise_high": 1.0}
    write_results(tmp_path, "adam", [{"seed": 1, "epochs_to_convergence": 900}, {"seed": 2, "epochs_to_convergence": 700},
                                     {"seed": 3, "epochs_to_convergence": None}], task=task, epochs=2000)
    [line] = standing_lines(run_summary(optim="kryball", task=task, epochs=2000, epochs_to_convergence=18), tmp_path)
    assert "this run: converged in 18 epochs" in line and "Adam 2/3 converged in 800 epochs (median)" in line
