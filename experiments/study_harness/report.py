"""The study's report: summary over seeds, Markdown table, PNG plots, JSON.

`write_report(results, folder)` writes `results.json`, `results.md` and the plots;
`write_report(load_results(path), folder)` redraws them from a saved JSON.
"""

import json
import os

import numpy as np

__all__ = ["load_results", "results_table", "summarize", "write_report"]


def _seconds_to_reach(curve, metric, target):
    for record in curve:
        if record[metric] >= target:
            return record["train_seconds"]
    return None


def _mean_spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None, 0
    array = np.asarray(values, float)
    spread = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return float(array.mean()), spread, len(array)


def summarize(results):
    """Per regime: mean and standard deviation over seeds of the headline figures."""
    config = results["config"]
    metric, target = config["metric"], config["target_quality"]
    summary = []
    for regime in config["regimes"]:
        runs = [r for r in results["runs"] if r["regime"] == regime["name"]]
        if not runs:
            continue
        row = {"regime": regime["name"], "description": regime["description"],
               "granularity": regime["granularity"], "feedback": regime["feedback"],
               "seeds": len(runs)}
        columns = {
            "final": [r["final"][metric] for r in runs],
            "best": [r["best"] for r in runs],
            "test": [r[f"test_{metric}"] for r in runs],
            "final_free_running_accuracy": [r["final"]["free_running_accuracy"]
                                            for r in runs],
            "final_gap": [r["final"]["gap"] for r in runs],
            "final_ratio": [r["final"]["ratio"] for r in runs],
            "steps": [r["steps"] for r in runs],
            "train_seconds": [r["train_seconds"] for r in runs],
            "wall_seconds": [r["wall_seconds"] for r in runs],
        }
        reach = [_seconds_to_reach(r["curve"], metric, target) for r in runs]
        columns["seconds_to_target"] = reach
        for key, values in columns.items():
            mean, spread, n = _mean_spread(values)
            row[key] = mean
            row[f"{key}_std"] = spread
            row[f"{key}_n"] = n
        row["switch_steps"] = [r["switch_step"] for r in runs]
        summary.append(row)
    return summary


def _fmt(mean, std, n, scale=1.0, digits=1, show_std=True):
    if mean is None:
        return "—"
    text = f"{mean * scale:.{digits}f}"
    if show_std and n > 1:
        text += f" ± {std * scale:.{digits}f}"
    return text


def results_table(results):
    """The Markdown table of `results["summary"]` (mean ± std over seeds)."""
    config = results["config"]
    metric = config["metric"]
    scale, unit = (100.0, "%") if metric == "exact_match" else (1.0, "")
    name = "exact match" if metric == "exact_match" else "BLEU"
    target = config["target_quality"]
    target_text = f"{target * scale:g}{unit}"
    lines = [
        f"| regime | final FR {name}{' (%)' if unit else ''} | best FR {name} | "
        f"test {name} (end) | final FR token acc (%) | final TF−FR gap (pts) | "
        f"ratio at end | steps | train s | s to {target_text} | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["summary"]:
        n = row["seeds"]
        reached = row["seconds_to_target_n"]
        to_target = _fmt(row["seconds_to_target"], row["seconds_to_target_std"],
                         reached, digits=0)
        if reached < n:
            to_target += f" ({reached}/{n} seeds)"
        lines.append(
            f"| `{row['regime']}` | "
            f"{_fmt(row['final'], row['final_std'], n, scale)} | "
            f"{_fmt(row['best'], row['best_std'], n, scale)} | "
            f"{_fmt(row['test'], row['test_std'], n, scale)} | "
            f"{_fmt(row['final_free_running_accuracy'], row['final_free_running_accuracy_std'], n, 100.0)} | "
            f"{_fmt(row['final_gap'], row['final_gap_std'], n, 100.0)} | "
            f"{_fmt(row['final_ratio'], row['final_ratio_std'], n, digits=2, show_std=False)} | "
            f"{_fmt(row['steps'], row['steps_std'], n, digits=0)} | "
            f"{_fmt(row['train_seconds'], 0, 1, digits=0)} | "
            f"{to_target} | "
            f"{_fmt(row['wall_seconds'], row['wall_seconds_std'], n, digits=0)} |")
    return "\n".join(lines)


def _markdown(results):
    config, env = results["config"], results["environment"]
    seeds = config["seeds"]
    lines = [
        "# Teacher-forcing study: results",
        "",
        f"Written by `experiments/study_harness` on {env['date']}.",
        "",
        f"* command: `{env['command']}`",
        f"* task: {config['task']} {json.dumps(config['task_info'])}; metric: "
        f"{config['metric']} of greedy `model.translate` (free running)",
        f"* model: {json.dumps(config['model'])}; Adam {config['learning_rate']}"
        + (f" (clipnorm {config['clipnorm']:g})" if config.get("clipnorm") else "")
        + ", "
        f"batch {config['batch_size']} ({config['steps_per_epoch']} steps per epoch)",
        f"* budget: {config['budget_seconds']:g} s of training per run on the "
        f"{config['clock']} clock (first, tracing step and evaluations not counted)"
        + (f", at most {config['max_steps']} steps" if config["max_steps"] else ""),
        f"* seeds: {seeds} (n = {len(seeds)}; ± is the standard deviation over seeds)",
        f"* decays planned over {config['planned_steps']} steps from ~1 to "
        f"{config['final_ratio']}"
        + (f" (calibrated: {config['calibration']['seconds_per_step'] * 1000:.1f} ms "
           "per scheduled step)" if config["calibration"] else ""),
        f"* evaluation every {config['eval_every_steps']} steps on "
        f"{config['task_info'].get('eval_size')} held-out pairs; 'test' is scored once "
        f"at the end on {config['task_info'].get('test_size')} other pairs",
        "* `teacher_forcing_mode=\"parallel\"`: "
        + ("run" if any(r["mode"] == "parallel" for r in config["regimes"])
           else "not selected"),
        f"* machine: {env['cpu_count']} CPUs, {env['intra_op_threads']} TF intra-op "
        f"thread(s), load average before/after {env['load_average_before']} / "
        f"{env['load_average_after']}; total {env['total_wall_seconds']:.0f} s wall",
        "",
        "FR = free running (greedy, own predictions fed back); TF = teacher forced. "
        "'best' is the best evaluation on the held-out set (optimistic: picked on "
        "the same set).",
        "",
        results_table(results),
        "",
        "Regimes:",
        "",
    ]
    for row in results["summary"]:
        line = f"* `{row['regime']}`: {row['description']}"
        if any(r["switch"] for r in config["regimes"] if r["name"] == row["regime"]):
            line += f"; the switch fired at step(s) {row['switch_steps']} (per seed)"
        lines.append(line)
    lines.append("")
    return "\n".join(lines)


_STYLES = ["-", "--", "-.", ":"]


def _curves(results, regime, key):
    """Steps, mean, min and max of `key` over the seeds at their common steps.

    The last point is each seed's final evaluation (seeds stop at different steps
    under a time budget), drawn at their mean step.
    """
    runs = [r for r in results["runs"] if r["regime"] == regime]
    if not runs:
        return None
    common = set.intersection(*[{rec["step"] for rec in r["curve"]} for r in runs])
    steps = sorted(common)
    rows = [[next(rec[key] for rec in r["curve"] if rec["step"] == s) for s in steps]
            for r in runs]
    if any(r["curve"][-1]["step"] != steps[-1] for r in runs):
        steps.append(float(np.mean([r["curve"][-1]["step"] for r in runs])))
        for row, run in zip(rows, runs):
            row.append(run["curve"][-1][key])
    values = np.array(rows, float)
    return np.array(steps), values.mean(0), values.min(0), values.max(0)


def _plot(results, path, panels, title):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    regimes = [r["name"] for r in results["config"]["regimes"]]
    figure = Figure(figsize=(5.2 * len(panels), 4.2), dpi=90)
    FigureCanvasAgg(figure)
    axes_list = figure.subplots(1, len(panels), squeeze=False)[0]
    colors = [f"C{i}" for i in range(10)]
    for axes, (key, x_key, ylabel, scale) in zip(axes_list, panels):
        for i, name in enumerate(regimes):
            curve = _curves(results, name, key)
            if curve is None:
                continue
            steps, mean, low, high = curve
            if x_key == "step":
                x = steps
            else:
                x = _curves(results, name, x_key)[1]
            style = dict(color=colors[i % 10], linestyle=_STYLES[(i // 10 + i) % 4],
                         linewidth=1.4)
            axes.plot(x, mean * scale, label=name, **style)
            if len(results["config"]["seeds"]) > 1:
                axes.fill_between(x, low * scale, high * scale, color=style["color"],
                                  alpha=0.07, linewidth=0)
        axes.set_xlabel("optimizer step" if x_key == "step"
                        else f"training seconds ({results['config']['clock']} clock)")
        axes.set_ylabel(ylabel)
        axes.grid(alpha=0.3)
    axes_list[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                         borderaxespad=0.0)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, bbox_inches="tight")
    return path


def write_report(results, output_dir):
    """Writes `results.json`, `results.md` and the PNG plots; returns their paths."""
    os.makedirs(output_dir, exist_ok=True)
    if "summary" not in results:
        results["summary"] = summarize(results)
    metric = results["config"]["metric"]
    seeds = results["config"]["seeds"]
    spread = f" (mean of {len(seeds)} seeds, band min–max)" if len(seeds) > 1 else ""
    paths = {"json": os.path.join(output_dir, "results.json"),
             "markdown": os.path.join(output_dir, "results.md")}
    with open(paths["json"], "w") as f:
        json.dump(results, f, indent=1)
    with open(paths["markdown"], "w") as f:
        f.write(_markdown(results))
    if metric == "exact_match":
        quality = ("free-running exact match (%)", 100.0)
    else:
        quality = ("free-running BLEU", 1.0)
    paths["quality"] = _plot(
        results, os.path.join(output_dir, f"{metric}.png"),
        [(metric, "step", quality[0], quality[1]),
         (metric, "train_seconds", quality[0], quality[1])],
        f"Greedy free-running {metric.replace('_', ' ')} on held-out data{spread}")
    paths["ratio"] = _plot(
        results, os.path.join(output_dir, "ratio.png"),
        [("ratio", "step", "teacher-forcing ratio in use", 1.0)],
        "Teacher-forcing ratio (model.teacher_forcing_ratio() at each evaluation;\n"
        "regimes with the same schedule overlap)")
    paths["gap"] = _plot(
        results, os.path.join(output_dir, "gap.png"),
        [("gap", "step", "teacher-forced − free-running token accuracy (pts)", 100.0),
         ("free_running_accuracy", "step", "free-running token accuracy (%)", 100.0)],
        f"Exposure bias: the teacher-forced − free-running gap{spread}")
    return paths


def load_results(path):
    """Reads a `results.json` written by `run_study`."""
    with open(path) as f:
        return json.load(f)
