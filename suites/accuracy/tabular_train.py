"""The ``uci-actmix`` network trial: one unit, one fold, one seed, one framework, trained for real.

Spec §3.3 (the ActMix ``TabularTrainer``): an MLP with hidden [128, 128] of the unit and a linear
head (2 logits and cross-entropy for classification; 1 output and MSE on the raw target for
CCPP), AdamW (lr 1e-3, weight decay 1e-4), cosine annealing to 1e-5 over the epoch budget
stepped per epoch, total-norm gradient clipping 0.5, batch 128, early stopping on the
validation loss with patience 20 and the best epoch's weights restored for the test metrics.

The data of the fold come from ``suites/accuracy/tabular.py``: leak-free (validation part from
the training folds) or the labelled ``replicate-actmix`` leak (the test fold is the validation
part, preprocessing fitted on all rows). Weights come from the trial seed's ``init`` stream,
the batch order from its ``data_order`` stream, and the inner validation split from its
``split`` stream, so every framework sees identical data, batches and initial weights.

ActMix runs in both of the original's variants, each with ``relu_bias`` 1.5 (README) and 0.0
(the YAML the code loaded), labelled in the variant: ``notemp`` (T = 1, no penalty) and
``full`` (spec §3.3: at the start of epoch e, counted from 0, the temperature is annealed
linearly 1 -> 0.01 over the first 150 epochs and the entropy weight warmed up linearly
0 -> 0.01 over the first 50; the loss minimised is task loss + weight * mean mixture entropy,
``impls.set_entropy_weight``). The best epoch's temperature is restored with its weights, as
the original's checkpoint kept its temperature buffer. The quick profile scales both ramps to
its epoch budget (3/4 and 1/4 of it), so the anneal still ends before the last epoch.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from suites.accuracy import metrics, tabular

PROTOCOL = "uci-actmix"
HIDDEN = (128, 128)

#: Units of the comparison and their configurations: the static baselines of spec §3.2 (SiLU is
#: swish with beta fixed at 1), ActMix (full and notemp, both relu_bias values), and every other
#: unit. Labels starting with ``full`` train with the mixture schedule (``MixtureSchedule``).
UNIT_CONFIGS: Mapping[str, tuple[tuple[str, Mapping[str, Any]], ...]] = {
    "relu": (("", {}),), "gelu": (("", {}),), "prelu": (("", {}),), "tanh": (("", {}),),
    "swish": (("silu", {"learnable": False, "beta": 1.0}),),
    "actmix": (("full/relu_bias=1.5", {"relu_bias": 1.5}), ("full/relu_bias=0", {"relu_bias": 0.0}),
               ("notemp/relu_bias=1.5", {"relu_bias": 1.5}), ("notemp/relu_bias=0", {"relu_bias": 0.0})),
    "aptx_activation": (("", {"trainable": True}),),
    "lselu": (("", {}),), "yat_dense": (("", {}),), "aptx_layer": (("", {}),),
}
UNITS = tuple(UNIT_CONFIGS)


@dataclass(frozen=True)
class MixtureSchedule:
    """ActMix ``full``: temperature and entropy weight of epoch e (from 0), spec §3.3."""

    anneal_epochs: int
    warmup_epochs: int
    t_initial: float = 1.0
    t_final: float = 0.01
    entropy_weight: float = 0.01

    def temperature(self, epoch: int) -> float:
        if epoch >= self.anneal_epochs:
            return self.t_final
        return self.t_initial + epoch / self.anneal_epochs * (self.t_final - self.t_initial)

    def weight(self, epoch: int) -> float:
        return self.entropy_weight * min(1.0, epoch / self.warmup_epochs)


def mixture_schedule(label: str, epochs: int) -> dict[str, Any] | None:
    """The schedule a variant label asks for (as a config dict), or None (fixed T = 1, no penalty).

    The protocol's ramps (150 and 50 epochs) belong to its 200-epoch budget; a shorter budget
    keeps their proportions."""
    if not label.startswith("full"):
        return None
    if epochs >= 200:
        return dataclasses.asdict(MixtureSchedule(anneal_epochs=150, warmup_epochs=50))
    return dataclasses.asdict(MixtureSchedule(anneal_epochs=max(1, round(0.75 * epochs)),
                                              warmup_epochs=max(1, round(0.25 * epochs))))


@dataclass(frozen=True)
class TabularProfile:
    epochs: int
    patience: int
    folds: tuple[int, ...]
    seeds: int
    train_subset: int | None = None


#: quick: a smoke-sized run (two folds, 2,000 training rows, 8 epochs with the cosine over them,
#: two seeds): it exercises every path in minutes, and its numbers are not the protocol's (CCPP's
#: raw-target regression, spec §3.6, is far from converged in 8 epochs). paper: spec §3.3 on all
#: ten folds.
PROFILES: Mapping[str, TabularProfile] = {
    "quick": TabularProfile(epochs=8, patience=4, folds=(0, 1), seeds=2, train_subset=2000),
    "paper": TabularProfile(epochs=200, patience=20, folds=tuple(range(tabular.N_FOLDS)), seeds=1),
}
DATA_VARIANTS = ("leak-free", tabular.LEAKY_VARIANT)
DEFAULT_MODES = {"numpy": "eager", "torch": "eager", "jax": "compiled", "tf": "compiled"}


def plan(*, units: Sequence[str] | None = None, frameworks: Sequence[str],
         datasets: Sequence[str] | None = None, profile: str = "quick", seeds: int | None = None,
         data_variants: Sequence[str] = ("leak-free",), dtype: str = "float32") -> list:
    """One runner trial per dataset, unit configuration, data variant, framework, fold, seed."""
    from suites.accuracy.grid import SUITE_CODE
    from suites.run import Trial, backend_code
    from suites.settings import DISTRIBUTIONS

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    prof = PROFILES[profile]
    units = list(units or UNITS)
    unknown = [u for u in units if u not in UNIT_CONFIGS]
    if unknown:
        raise ValueError(f"uci-actmix has no unit {', '.join(unknown)}; its units: {', '.join(UNITS)}")
    bad = [v for v in data_variants if v not in DATA_VARIANTS]
    if bad:
        raise ValueError(f"unknown uci-actmix variant(s) {', '.join(bad)}; known: {', '.join(DATA_VARIANTS)}")
    datasets = list(datasets or tabular.DATASETS)
    trials = []
    for dataset in datasets:
        if dataset not in tabular.DATASETS:
            raise ValueError(f"unknown uci-actmix dataset {dataset!r}; known: {', '.join(tabular.DATASETS)}")
        for unit in units:
            for label, unit_config in UNIT_CONFIGS[unit]:
                for data_variant in data_variants:
                    variant = "/".join(p for p in (data_variant, label) if p)
                    for framework in frameworks:
                        for seed in range(prof.seeds if seeds is None else seeds):
                            for fold in prof.folds:
                                config = {
                                    "protocol": PROTOCOL, "profile": profile, "dataset": dataset,
                                    "unit": unit, "unit_config": dict(unit_config),
                                    "variant": variant, "data_variant": data_variant,
                                    "framework": framework, "mode": DEFAULT_MODES[framework],
                                    "dtype": dtype, "seed": seed, "fold": fold,
                                    "n_folds": tabular.N_FOLDS, "fold_seed": tabular.FOLD_SEED,
                                    "hidden": list(HIDDEN),
                                    "optimizer": {"name": "adamw", "lr": 1e-3, "weight_decay": 1e-4},
                                    "schedule": {"name": "cosine", "t_max": prof.epochs, "eta_min": 1e-5},
                                    "clip_norm": 0.5, "batch_size": 128, "eval_batch_size": 4096,
                                    "epochs": prof.epochs, "patience": prof.patience,
                                    "train_subset": prof.train_subset,
                                    "mixture_schedule": mixture_schedule(label, prof.epochs),
                                }
                                trials.append(Trial(
                                    suite="accuracy", fn="suites.accuracy.tabular_train:run_trial",
                                    config=config, code=(*backend_code(framework), *SUITE_CODE),
                                    frameworks=(*DISTRIBUTIONS[framework], "scikit-learn"),
                                    label=f"{PROTOCOL} {dataset} {unit} {variant} {framework} "
                                          f"fold {fold} seed {seed}"))
    return trials


def _loss_and_prediction(task: str, outputs: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """(mean loss in float64, what the metrics take: the value or P(class 1))."""
    outputs = outputs.astype(np.float64)
    if task == "regression":
        prediction = outputs[:, 0]
        return float(np.mean((prediction - y.astype(np.float64).ravel()) ** 2)), prediction
    log_p = special.log_softmax(outputs, axis=1)
    return -float(np.mean(log_p[np.arange(len(y)), y])), np.exp(log_p[:, 1])


def run_trial(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Train one fold (see the module docstring); returns tidy rows (runner schema)."""
    import impls
    from impls.spec import MLPSpec, seeds
    from suites.accuracy import protocols
    from suites.accuracy.train import batches_of, device_name
    from suites.run import Diverged

    framework, mode, dtype = config["framework"], config["mode"], config["dtype"]
    table = tabular.load_table(config["dataset"])
    fold = tabular.folds(table, config["n_folds"], config["fold_seed"])[config["fold"]]
    split_seed = int(seeds.stream(config["seed"], "split").generate_state(1)[0])
    ds = tabular.fold_data(table, fold, variant=config["data_variant"], seed=split_seed)
    if config["train_subset"] is not None and config["train_subset"] < len(ds.x_train):
        keep = np.sort(seeds.generator(config["seed"], "split").permutation(len(ds.x_train))
                       [:config["train_subset"]])
        ds = dataclasses.replace(ds, x_train=ds.x_train[keep], y_train=ds.y_train[keep])
    task = table.task
    y_train = ds.y_train.reshape(-1, 1) if task == "regression" else ds.y_train
    out = 1 if task == "regression" else len(table.class_names)
    architecture = MLPSpec(ds.x_train.shape[1], tuple(config["hidden"]), out, config["unit"],
                           dict(config["unit_config"]))
    model = impls.build_model(architecture, framework, seed=seeds.stream(config["seed"], "init"),
                              dtype=dtype)
    rule = protocols.make_rule(config["optimizer"])
    schedule = protocols.make_schedule(config["schedule"])
    loss = "mse" if task == "regression" else "cross_entropy"
    state = impls.init_train_state(model, loss, rule, mode=mode, clip_norm=config["clip_norm"])
    order_rng = seeds.generator(config["seed"], "data_order")

    base = {"protocol": PROTOCOL, "unit": config["unit"], "framework": framework, "mode": mode,
            "device": device_name(framework), "dtype": dtype, "dataset": config["dataset"],
            "fold": config["fold"], "seed": config["seed"], "n_params": architecture.n_params,
            "variant": config["variant"], "profile": config["profile"], "selection": "",
            "kernel": impls.kernel_name(config["unit"], framework, mode, **config["unit_config"])}
    rows: list[dict[str, Any]] = []

    def add(epoch: int | None, split: str, metric: str, value: float, **extra: Any) -> None:
        rows.append({**base, "epoch": epoch, "split": split, "metric": metric, "value": float(value),
                     **extra})

    mixing = (MixtureSchedule(**config["mixture_schedule"]) if config.get("mixture_schedule") else None)
    temperature = mixing.t_initial if mixing else None
    best = (math.inf, 0, None, temperature)        # (validation loss, epoch, weights, temperature)
    for epoch in range(1, config["epochs"] + 1):
        lr = schedule.lr(rule.lr, epoch - 1)
        impls.set_learning_rate(state, lr)
        if mixing is not None:
            temperature = mixing.temperature(epoch - 1)
            impls.set_temperature(model, temperature)
            impls.set_entropy_weight(state, mixing.weight(epoch - 1))
            add(epoch, "", "temperature", temperature)
            add(epoch, "", "entropy_weight", mixing.weight(epoch - 1))
        order = order_rng.permutation(len(ds.x_train))
        start = time.perf_counter()
        losses = impls.train_steps(state, batches_of(ds.x_train, y_train, order, config["batch_size"]))
        seconds = time.perf_counter() - start
        if not all(math.isfinite(v) for v in losses):
            raise Diverged(epoch, rows, f"training loss became non-finite in epoch {epoch}")
        add(epoch, "train", "loss", float(np.mean(losses)))
        add(epoch, "", "epoch_seconds", seconds)
        val_outputs = impls.predict(model, ds.x_val, batch_size=config["eval_batch_size"], mode=mode)
        val_loss, _ = _loss_and_prediction(task, val_outputs, ds.y_val)
        add(epoch, "val", "loss", val_loss)
        params = impls.get_model_params(model)       # fresh NumPy copies in every framework
        for layer, entropy in mixture_entropies(architecture, params, temperature):
            add(epoch, "", "actmix_entropy", entropy, detail=f"layer={layer}")
        if val_loss < best[0]:
            best = (val_loss, epoch, params, temperature)
        elif epoch - best[1] >= config["patience"]:
            break
    if best[2] is None:
        raise Diverged(epoch, rows, "the validation loss was never finite")
    impls.set_model_params(model, best[2])
    if mixing is not None:
        impls.set_temperature(model, best[3])
    outputs = impls.predict(model, ds.x_test, batch_size=config["eval_batch_size"], mode=mode)
    _, prediction = _loss_and_prediction(task, outputs, ds.y_test)
    for name, value in metrics.for_task(task, ds.y_test, prediction).items():
        add(best[1], "test", name, value, selection="best_val")
    add(best[1], "", "stopped_epoch", epoch)
    every_neuron = config["fold"] == 0 and config["seed"] == 0      # what the heatmap draws
    for metric, value, detail in learned_values(architecture, best[2], every_neuron=every_neuron,
                                                temperature=best[3]):
        add(best[1], "learned", metric, value, detail=detail)
    return rows


def mixture_entropies(architecture, params: list[dict[str, np.ndarray]], temperature: float | None = None
                      ) -> list[tuple[int, float]]:
    """(hidden layer, mean entropy of its ActMix mixtures) for every ActMix layer (none else), at
    ``temperature`` (the annealed one) or the architecture's."""
    from impls.spec import oracle

    out, hidden = [], 0
    for spec, values in zip(architecture.layers(), params, strict=True):
        if spec.block == "actmix":
            t = spec.config["temperature"] if temperature is None else temperature
            out.append((hidden, oracle.actmix_entropy(values["logits"], t)))
        if spec.block in SHAPED_UNITS:
            hidden += 1
    return out


#: Units whose learned shape the report draws (their parameters go into the rows).
SHAPED_UNITS = ("actmix", "aptx_activation", "lselu")


def learned_values(architecture, params: list[dict[str, np.ndarray]], *, every_neuron: bool = True,
                   temperature: float | None = None) -> list[tuple[str, float, str]]:
    """(metric, value, detail) of what the report draws, L counting hidden layers: the ActMix
    mixing coefficients averaged over neurons (``coefficient_mean/<basis>``, detail ``layer=L``)
    and, with ``every_neuron``, of each neuron (``coefficient/<basis>``, ``layer=L neuron=N``:
    1,024 rows for the protocol's MLP, so the trial keeps them for fold 0 and seed 0 only); the
    scalar parameters of the APTx activation and LearnableSELU (``param/<name>``, ``layer=L``).
    ``temperature`` overrides the architecture's (an annealed ActMix's coefficients)."""
    from impls.spec import oracle

    out = []
    hidden = 0
    for spec, values in zip(architecture.layers(), params, strict=True):
        if spec.block not in SHAPED_UNITS:
            continue
        config = dict(spec.config)
        if spec.block == "actmix":
            coefficients = oracle.actmix_coefficients(
                values["logits"], config["temperature"] if temperature is None else temperature)
            out += [(f"coefficient_mean/{basis}", float(c), f"layer={hidden}")
                    for basis, c in zip(config["basis"], coefficients.mean(axis=0), strict=True)]
            if every_neuron:
                for neuron, row in enumerate(coefficients):
                    for basis, c in zip(config["basis"], row, strict=True):
                        out.append((f"coefficient/{basis}", float(c), f"layer={hidden} neuron={neuron}"))
        else:
            out += [(f"param/{name}", float(np.asarray(v)), f"layer={hidden}")
                    for name, v in values.items() if np.asarray(v).ndim == 0]
        hidden += 1
    return out
