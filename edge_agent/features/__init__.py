"""Feature computation shared verbatim by the edge and training: signals -> standardised windows.

Numpy only (the edge never imports torch, polars or dagster). The training side converts its frames to
numpy and calls these same functions, so a model sees the same numbers at the edge as in training.
The weld score (window scores and weld length -> one number per weld, `weld_score`) is shared the same way.
"""

from edge_agent.features.manifest import deployment_content, deployment_signature_problem
from edge_agent.features.package import (
    FEATURE_SPEC_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    PROFILE_FILE,
    THRESHOLD_FILE,
    EdgePackage,
    PackageError,
    file_digest,
    load_package,
    signed_content,
    verify_signature,
)
from edge_agent.features.profile import PROFILE_STATS, profile_columns, window_profile
from edge_agent.features.spec import SPEC_VERSION, FeatureSpec, fit_feature_spec
from edge_agent.features.thresholds import PackageThresholds, Threshold
from edge_agent.features.weld_score import (
    COMPONENTS,
    MIN_DURATION_BOUND,
    THRESHOLD_FORMAT,
    DurationModel,
    WeldScorer,
    WeldScores,
    WeldVerdict,
    aggregate,
    aggregate_groups,
    duration_scores,
    fit_duration,
)
from edge_agent.features.windows import (
    fill_missing,
    pad_to_window,
    select_signals,
    standardise,
    window_matrix,
    window_starts,
)

__all__ = [
    "COMPONENTS",
    "FEATURE_SPEC_FILE",
    "MANIFEST_FILE",
    "MIN_DURATION_BOUND",
    "MODEL_FILE",
    "PROFILE_FILE",
    "PROFILE_STATS",
    "SPEC_VERSION",
    "THRESHOLD_FILE",
    "THRESHOLD_FORMAT",
    "DurationModel",
    "EdgePackage",
    "FeatureSpec",
    "PackageError",
    "PackageThresholds",
    "Threshold",
    "WeldScorer",
    "WeldScores",
    "WeldVerdict",
    "aggregate",
    "aggregate_groups",
    "deployment_content",
    "deployment_signature_problem",
    "duration_scores",
    "file_digest",
    "fill_missing",
    "fit_duration",
    "fit_feature_spec",
    "load_package",
    "pad_to_window",
    "profile_columns",
    "select_signals",
    "signed_content",
    "standardise",
    "verify_signature",
    "window_matrix",
    "window_profile",
    "window_starts",
]
