"""The error hierarchy the CLI turns into a one-line message and exit code 1."""


class CustomerBehaviorError(Exception):
    """Base class: a problem the user can fix, reported in one line."""


class ConfigError(CustomerBehaviorError):
    """Bad configuration: names the key and the allowed values."""


class InputError(CustomerBehaviorError):
    """Input data that cannot be used at all."""


class OutputError(CustomerBehaviorError):
    """An output location that cannot be written safely."""


class EnvironmentProblem(CustomerBehaviorError):
    """The machine lacks something the tool needs (Java, for example)."""


class ModelError(CustomerBehaviorError):
    """A model that cannot be fitted, loaded or applied."""


class StageSkipped(CustomerBehaviorError):
    """A stage that cannot run on this data (too few customers to cluster, say): raised inside
    a stage, caught by the stage runner (`tracking.StageTracker.stage`), which records the
    stage as "skipped" with this reason; the run goes on without the stage's outputs."""
