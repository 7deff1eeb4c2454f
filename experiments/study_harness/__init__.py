"""The teacher-forcing study: the same model, data, seed and time budget per regime.

An experiment built on `keras_seq2seq`, not part of the package: run it with
`python experiments/teacher_forcing_study.py` (docs/teacher_forcing.md). From Python,
with `experiments/` on `sys.path`::

    import study_harness as study
    results = study.run_study(["tf_1.0", "invsig_token"], seeds=(0, 1),
                              budget_seconds=20, output_dir="out")

`run_study` trains one small `Seq2Seq` per (regime, seed) for a fixed budget of
training seconds and, every `eval_every_steps` optimizer steps, measures on a fixed
held-out set:

* the teacher-forced token accuracy (the model fed the ground truth, as in
  `Seq2Seq.test_step`'s `accuracy`);
* the free-running token accuracy (the model fed its own argmax, as in
  `free_running_accuracy`);
* their gap, the exposure bias made visible;
* the free-running sequence quality of greedy `model.translate`: exact match for the
  date task, BLEU (sacrebleu) for Multi30k;
* the teacher-forcing ratio in use (`model.teacher_forcing_ratio()`, the schedule's
  value capped by the switch) and the clocks.

It writes `results.json` (every raw curve), `results.md` (mean ± spread over seeds)
and PNG plots into the output folder; `write_report(load_results(path), folder)`
redraws them from a saved JSON.

The modules: `regimes` (the regimes, `default_regimes`, and the decays planned to go
from about 1 to `final_ratio` over the steps the budget allows), `tasks` (the date
task and Multi30k), `monitor` (the held-out measures and the budget callback),
`runner` (`run_regime`, `run_study`) and `report`.

Budget and clocks: the first training step (which traces the graph) is not counted;
evaluations pause the clock. With `clock="process"` (the default) the budget is
process CPU seconds (`time.process_time`), so that other jobs on a shared machine
do not shorten one regime's training more than another's; `clock="wall"` uses
`time.perf_counter`. Both clocks are logged at every evaluation.
"""

from .monitor import CLOCKS, HeldOutEvaluator, StudyMonitor, sequence_quality
from .regimes import DECAYS, Regime, default_regimes, planned_decay
from .report import load_results, results_table, summarize, write_report
from .runner import (
    build_model,
    calibrate_step_seconds,
    configure_threads,
    run_regime,
    run_study,
)
from .tasks import (
    DATES_MODEL,
    DEFAULT_MULTI30K_DIR,
    MULTI30K_MODEL,
    TaskData,
    prepare_task,
)

__all__ = [
    "CLOCKS",
    "DATES_MODEL",
    "DECAYS",
    "DEFAULT_MULTI30K_DIR",
    "MULTI30K_MODEL",
    "HeldOutEvaluator",
    "Regime",
    "StudyMonitor",
    "TaskData",
    "build_model",
    "calibrate_step_seconds",
    "configure_threads",
    "default_regimes",
    "load_results",
    "planned_decay",
    "prepare_task",
    "results_table",
    "run_regime",
    "run_study",
    "sequence_quality",
    "summarize",
    "write_report",
]
