"""The study's regimes: a ratio schedule, its granularity, feedback, switch and mode.

`default_regimes()` lists them (docs/teacher_forcing.md, "Regimes"); the decays are
planned by `planned_decay` to go from about 1 to `final_ratio` over the steps the
budget allows.
"""

import dataclasses

from keras_seq2seq import schedules

__all__ = ["DECAYS", "Regime", "default_regimes", "planned_decay"]

DECAYS = ("linear", "exponential", "inverse_sigmoid")


@dataclasses.dataclass(frozen=True)
class Regime:
    """One way of training: a ratio schedule, its granularity, feedback and switch.

    Args:
        name: short identifier (used in tables, plots and JSON keys).
        schedule: a float (constant ratio), a `TeacherForcingSchedule` or schedule
            dict (used as is), or one of `DECAYS` ("linear", "exponential",
            "inverse_sigmoid"): a decay from about 1 to the study's `final_ratio`
            at the study's planned step count (see `planned_decay`).
        granularity: "batch" or "token" (`teacher_forcing_granularity`).
        feedback: "argmax" or "sample" (`teacher_forcing_feedback`).
        switch: keyword arguments of `callbacks.TeacherForcingSwitch`, or None.
        mode: `teacher_forcing_mode` of the model (e.g. "parallel"), or None to
            leave the model's default.
        description: a human-readable line for the table.
    """

    name: str
    schedule: object = 1.0
    granularity: str = "batch"
    feedback: str = "argmax"
    switch: dict = None
    mode: str = None
    description: str = ""

    def make_schedule(self, planned_steps, final_ratio=0.1):
        """The `TeacherForcingSchedule` of this regime for a run of `planned_steps`."""
        if isinstance(self.schedule, str) and self.schedule in DECAYS:
            return planned_decay(self.schedule, planned_steps, final_ratio)
        return schedules.get(self.schedule)

    def to_json(self):
        schedule = self.schedule
        if not isinstance(schedule, (str, int, float, dict)):
            schedule = schedules.serialize(schedules.get(schedule))
        return {"name": self.name, "schedule": schedule,
                "granularity": self.granularity, "feedback": self.feedback,
                "switch": self.switch, "mode": self.mode,
                "description": self.description}


def default_regimes(switch_threshold=0.9):
    """The study's ten regimes (docs/teacher_forcing.md, "Regimes"), the parallel
    mode's last."""
    return [
        Regime("tf_1.0", 1.0, "batch", description="constant 1 (package default)"),
        Regime("const_0.5_batch", 0.5, "batch", description="constant 0.5, per batch"),
        Regime("const_0.5_token", 0.5, "token", description="constant 0.5, per token"),
        Regime("linear_token", "linear", "token", description="linear decay, per token"),
        Regime("exp_token", "exponential", "token",
               description="exponential decay, per token"),
        Regime("invsig_batch", "inverse_sigmoid", "batch",
               description="inverse-sigmoid decay, per batch"),
        Regime("invsig_token", "inverse_sigmoid", "token",
               description="inverse-sigmoid decay, per token (the demo's setting)"),
        Regime("invsig_token_sample", "inverse_sigmoid", "token", "sample",
               description="inverse-sigmoid decay, per token, sampled feedback"),
        Regime("switch_acc", 1.0, "batch",
               switch=dict(monitor="accuracy", threshold=switch_threshold, ratio=0.0,
                           check="batch"),
               description=f"constant 1, then 0 once training accuracy >= "
                           f"{switch_threshold} (TeacherForcingSwitch, per batch)"),
        Regime("parallel_invsig_token", "inverse_sigmoid", "token", mode="parallel",
               description="inverse-sigmoid decay, per token, "
                           "teacher_forcing_mode='parallel'"),
    ]


def planned_decay(name, planned_steps, final_ratio=0.1):
    """A decay from about 1 at step 0 to `final_ratio` at `planned_steps`, then flat.

    * linear: `LinearDecay(slope=(1 - final_ratio) / planned_steps, start=1)`;
    * exponential: `ExponentialDecay(k=final_ratio ** (1 / planned_steps))`;
    * inverse_sigmoid: `InverseSigmoidDecay(k)` with k solving
      k / (k + exp(planned_steps / k)) = final_ratio (starts at k / (k + 1) ≈ 1).

    Each has `minimum=final_ratio`, so a regime that runs more steps than planned
    stays at `final_ratio`.
    """
    planned_steps = max(1, int(planned_steps))
    if not 0.0 < final_ratio < 1.0:
        raise ValueError(f"`final_ratio` must lie in (0, 1). Received: {final_ratio!r}")
    if name == "linear":
        return schedules.LinearDecay(slope=(1.0 - final_ratio) / planned_steps,
                                     start=1.0, minimum=final_ratio)
    if name == "exponential":
        return schedules.ExponentialDecay(k=final_ratio ** (1.0 / planned_steps),
                                          minimum=final_ratio)
    if name == "inverse_sigmoid":
        return schedules.InverseSigmoidDecay(
            k=schedules.inverse_sigmoid_k(planned_steps, final_ratio), minimum=final_ratio)
    raise ValueError(f"Unknown decay {name!r}. Expected one of {DECAYS}.")
