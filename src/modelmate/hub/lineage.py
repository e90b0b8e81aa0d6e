"""The lineage graph: base → fine-tunes → forks, with the datasets they were trained on.

Nodes are ``m<model id>`` (types base / finetuned / external) and ``d<dataset id>``; edges are ``finetune`` (base →
model), ``fork`` (parent → child) and ``data`` (dataset → model). Model edges carry per-domain score deltas (child
minus source, for the domains both were measured on).

Only what the viewer may see is in the graph: an invisible model never appears, not even as an id. A visible fork
whose parent is invisible hangs from its base (``finetune`` edge) instead.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from modelmate.enums import ModelKind
from modelmate.hub import repository as repo
from modelmate.hub import service as hub
from modelmate.hub.schemas import LineageEdge, LineageNode, LineageOut
from modelmate.models import Dataset, Model, User

MAX_NODES = 300
MAX_DEPTH = 50
MODEL_KINDS = frozenset(k.value for k in ModelKind)


def _scores(model: Model) -> dict[str, float]:
    out = {}
    for domain, entry in (model.benchmark_scores or {}).items():
        score = entry.get("score") if isinstance(entry, dict) else None
        if isinstance(score, int | float):
            out[str(domain)] = float(score)
    return out


def _root(session: Session, model: Model, viewer: User | None) -> Model:
    """The family's root: up through visible parents, then the base (when visible)."""
    current, seen = model, {model.id}
    for _ in range(MAX_DEPTH):
        nxt_id = current.parent_model_id or current.base_model_id
        nxt = repo.get_model(session, nxt_id) if nxt_id and nxt_id not in seen else None
        if nxt is None or not hub.visible(nxt, viewer):
            if current.parent_model_id and current.base_model_id and current.base_model_id not in seen:
                base = repo.get_model(session, current.base_model_id)
                if base is not None and hub.visible(base, viewer):
                    return base
            return current
        seen.add(nxt.id)
        current = nxt
    return current


def _family(session: Session, root: Model, viewer: User | None) -> dict[int, Model]:
    members = {root.id: root}
    vid = viewer.id if viewer is not None else None
    for m in repo.family_members(session, root.id, vid):
        members[m.id] = m
    frontier = set(members)
    for _ in range(MAX_DEPTH):  # forks whose base is not the root (defensive: forks keep their parent's base)
        new = [m for m in repo.children_of(session, frontier, vid) if m.id not in members]
        if not new:
            break
        members.update({m.id: m for m in new})
        frontier = {m.id for m in new}
    return members


def _graph(session: Session, viewer: User | None, models: dict[int, Model], focus: int | None,
           limit: int = MAX_NODES) -> LineageOut:
    models = {i: m for i, m in models.items() if hub.visible(m, viewer)}
    ordered = sorted(models.values(), key=lambda m: (m.kind == "finetuned", m.id))
    truncated = len(ordered) > limit
    ordered = ordered[:limit]
    models = {m.id: m for m in ordered}
    names = repo.usernames(session, {m.owner_id for m in ordered if m.owner_id is not None})
    runs = repo.runs_of_models(session, {m.id for m in ordered if m.kind == "finetuned"})
    datasets = repo.datasets_by_id(session, {r.dataset_id for r in runs.values() if r.dataset_id})
    nodes: list[LineageNode] = []
    edges: list[LineageEdge] = []
    for m in ordered:
        owner = hub.owner_name(m, names)
        run = runs.get(m.id)
        kind = m.kind if m.kind in MODEL_KINDS else ModelKind.EXTERNAL.value
        nodes.append(LineageNode(id=f"m{m.id}", type=kind, label=m.name, model_id=m.id, owner=owner,
                                 page_path=hub.page_path(m, owner), outcome=run.training_outcome if run else None,
                                 scores=_scores(m)))
    for m in ordered:
        source, kind = None, "finetune"
        if m.parent_model_id and m.parent_model_id in models:
            source, kind = models[m.parent_model_id], "fork"
        elif m.base_model_id and m.base_model_id in models and m.base_model_id != m.id:
            source = models[m.base_model_id]
        if source is not None:
            mine, theirs = _scores(m), _scores(source)
            deltas = {d: round(mine[d] - theirs[d], 6) for d in sorted(mine) if d in theirs}
            edges.append(LineageEdge(id=f"e-m{source.id}-m{m.id}", source=f"m{source.id}", target=f"m{m.id}",
                                     type=kind, deltas=deltas))
    seen_datasets: set[int] = set()
    for m in ordered:
        run = runs.get(m.id)
        dataset: Dataset | None = datasets.get(run.dataset_id) if run and run.dataset_id else None
        if dataset is None or dataset.deleted_at is not None:
            continue
        if dataset.visibility != "public" and (viewer is None or dataset.owner_id != viewer.id):
            continue
        if dataset.id not in seen_datasets:
            if len(nodes) >= limit:
                truncated = True
                continue
            seen_datasets.add(dataset.id)
            nodes.append(LineageNode(id=f"d{dataset.id}", type="dataset", label=dataset.name, dataset_id=dataset.id,
                                     owner=names.get(dataset.owner_id)))
        edges.append(LineageEdge(id=f"e-d{dataset.id}-m{m.id}", source=f"d{dataset.id}", target=f"m{m.id}",
                                 type="data"))
    return LineageOut(focus=f"m{focus}" if focus is not None and focus in models else None, nodes=nodes, edges=edges,
                      truncated=truncated)


def lineage(session: Session, viewer: User | None, model_id: int | None) -> LineageOut:
    """With ``model_id``: that model's whole family (root base + visible descendants + datasets); without: the
    families of every visible fine-tuned model (at most 300 nodes)."""
    if model_id is not None:
        model = hub.get_visible(session, viewer, model_id)
        root = _root(session, model, viewer)
        members = _family(session, root, viewer)
        members.setdefault(model.id, model)
        return _graph(session, viewer, members, model.id)
    members = {}
    finetuned = repo.visible_finetuned(session, viewer.id if viewer else None, MAX_NODES)
    for m in finetuned:
        members[m.id] = m
    extra = {i for m in finetuned for i in (m.base_model_id, m.parent_model_id) if i and i not in members}
    members.update(repo.models_by_id(session, extra))
    return _graph(session, viewer, members, None)
