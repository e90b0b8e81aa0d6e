"""SQLAlchemy ORM models, one module per aggregate. Importing this package registers every table."""

from modelmate.models.catalog import LeaderboardEntry, Model, ModelFeedback
from modelmate.models.hub import (
    BenchmarkResult,
    CapabilityChange,
    CapabilityChangeFact,
    CapabilityChangeTotal,
    ContaminationOverlap,
    Dataset,
    DatasetContamination,
    DocumentOutcome,
    Evaluation,
    Job,
    RunCurvePoint,
    TrainingRun,
)
from modelmate.models.outbox import OutboxEvent
from modelmate.models.tracker import (
    Entry,
    EntryEmbedding,
    EntryEvent,
    EntryTag,
    JournalNote,
    SearchDocument,
    Tag,
)
from modelmate.models.user import ApiToken, RateLimitEvent, RateLimitStreak, User, UserSession

__all__ = [
    "LeaderboardEntry",
    "ApiToken",
    "BenchmarkResult",
    "CapabilityChange",
    "CapabilityChangeFact",
    "CapabilityChangeTotal",
    "ContaminationOverlap",
    "Dataset",
    "DatasetContamination",
    "DocumentOutcome",
    "Entry",
    "EntryEmbedding",
    "EntryEvent",
    "EntryTag",
    "Evaluation",
    "Job",
    "JournalNote",
    "Model",
    "ModelFeedback",
    "RunCurvePoint",
    "OutboxEvent",
    "RateLimitEvent",
    "RateLimitStreak",
    "SearchDocument",
    "Tag",
    "TrainingRun",
    "User",
    "UserSession",
]
