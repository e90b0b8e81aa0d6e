"""A run's loss curve against the history of its base model (issue 20 §5).

The **band**: per step bucket (absolute steps on a log scale, :mod:`modelmate.training.curve_buckets`), the median,
quartiles and deciles of the mean training loss of every earlier run on the same base model that the viewer can see
(their own runs and runs whose output model is public; an admin sees all), finished (succeeded, failed or cancelled)
and that logged at least one training loss — so a run that failed before its first step is not in it, one that
failed at step 300 is, up to step 300. At most :data:`BAND_CAP` runs make the band, the newest ones: the quantiles
of 500 runs are within about two percentile points (one standard error) of those of all of them, and the query's
cost stays bounded at any history size; the answer says how many earlier runs there are (counted up to
:data:`COUNT_CAP`, beyond which it says "more than") and how many the band used. Computed in SQL over the
runs' compact curves (:mod:`modelmate.research.curve_repository`).

The **same-dataset curves**: the newest :data:`SAME_DATASET_CAP` earlier runs on the same base model and dataset,
each as its compact curve. The **verdict** compares the run's loss at its last bucket with the band there: the
share of earlier runs whose loss there was higher (a percentile rank). Above 75 % it learned faster than usual,
below 25 % slower; outside the p10–p90 band it is called unusual. Fewer than :data:`MIN_RUNS` runs at that
bucket: too few to tell.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from modelmate.errors import NotFoundError
from modelmate.models import RunCurvePoint, User
from modelmate.research import curve_repository as repo
from modelmate.research.schemas import BandPoint, CurveHistoryOut, CurvePointOut, CurveVerdict, HistoryCurve
from modelmate.training.curve_buckets import bucket_end, bucket_start, bucket_step

BAND_CAP = 500
COUNT_CAP = 5000  # counting earlier runs stops here (a count is a scan of them all: O(history))
SAME_DATASET_CAP = 20
MIN_RUNS = 5
X_AXIS = "training step, log scale (buckets of four per doubling; each curve is its mean training loss per bucket)"


def _points(points: list[RunCurvePoint]) -> list[CurvePointOut]:
    return [CurvePointOut(bucket=p.bucket, step=bucket_step(p.bucket), last_step=p.last_step, loss=p.loss)
            for p in points]


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def verdict(own: list[CurvePointOut], band: list[BandPoint], higher: int, compared: int) -> CurveVerdict:
    if not own:
        return CurveVerdict(kind="no_loss", sentence="This run has not logged a training loss yet.")
    last = own[-1]
    at = next((b for b in band if b.bucket == last.bucket), None)
    if at is None or compared < MIN_RUNS:
        return CurveVerdict(
            kind="too_few", compared_runs=compared, step=last.last_step, loss=last.loss,
            sentence=(f"Too few earlier runs reached step {last.last_step} to tell whether this run learned faster "
                      f"or slower than usual ({compared} of at least {MIN_RUNS})."))
    pct = 100.0 * higher / compared
    where = f"at step {last.last_step} its loss {_fmt(last.loss)} is lower than {pct:.0f}% of {compared} earlier runs"
    where += f" (median {_fmt(at.median)})"
    unusual = " — outside the p10–p90 band, unusual" if last.loss < at.p10 or last.loss > at.p90 else ""
    if pct >= 75:
        kind, head = "faster", "Learned faster than usual"
    elif pct <= 25:
        kind, head = "slower", "Learned slower than usual"
    else:
        kind, head = "typical", "Learned about as fast as usual"
    return CurveVerdict(kind=kind, sentence=f"{head}: {where}{unusual}.", percentile=round(pct, 1),
                        compared_runs=compared, step=last.last_step, loss=last.loss, median=at.median)


def curve_history(session: Session, user: User, run_id: int) -> CurveHistoryOut:
    run = repo.visible_run(session, user, run_id)
    if run is None:
        raise NotFoundError(f"run {run_id} not found")
    same = repo.same_dataset_runs(session, user, run, limit=SAME_DATASET_CAP)
    curves = repo.curve_points(session, [run.id] + [r[0] for r in same])
    own = _points(curves[run.id])
    rows, (higher, compared) = repo.band(session, user, run, cap=BAND_CAP,
                                         loss_at=(own[-1].bucket, own[-1].loss) if own else None)
    earlier = repo.count_earlier(session, user, run, limit=COUNT_CAP + 1)
    band_runs = min(earlier, BAND_CAP)  # the band is the newest BAND_CAP of the same runs
    band = [BandPoint(bucket=r.bucket, step=bucket_step(r.bucket), step_from=bucket_start(r.bucket),
                      step_to=bucket_end(r.bucket), runs=r.runs, p10=r.quantiles[10], p25=r.quantiles[25],
                      median=r.quantiles[50], p75=r.quantiles[75], p90=r.quantiles[90]) for r in rows]
    return CurveHistoryOut(
        run_id=run.id, base_model_id=run.base_model_id, x_axis=X_AXIS, earlier_runs=min(earlier, COUNT_CAP),
        earlier_runs_more=earlier > COUNT_CAP,
        band_runs=band_runs, band_cap=BAND_CAP, band=band, run=own,
        same_dataset=[HistoryCurve(run_id=i, name=name, status=status, outcome=outcome, created_at=created,
                                   points=_points(curves[i])) for i, name, status, outcome, created in same],
        verdict=verdict(own, band, higher, compared))
