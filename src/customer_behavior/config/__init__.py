"""Configuration: frozen dataclasses per stage, composed into one `Config`.

Every knob has a default and a one-line help text (the field's metadata), which is also
what `customer-behavior init-config` writes as a comment. A TOML file (read with the
standard library) and CLI flags override the defaults; everything is validated here,
before Spark starts, with an error that names the key.

Modules: `knobs` (the field helper), `run` and `analysis` (the sections), `model` (Config),
`loader` (TOML + overrides), `template` (init-config). Every name is re-exported here.
"""

from __future__ import annotations

from customer_behavior.config.analysis import (  # noqa: F401  (re-exported)
    CLV_MODELS,
    DEFAULT_PERSONA_FEATURES,
    LOCAL_SWEEP_MAX_SAMPLE,
    PERSONA_ALGORITHMS,
    PERSONA_FEATURES,
    PERSONA_SELECTION_RULES,
    PERSONA_SWEEP_ENGINES,
    PURCHASE_MODELS,
    ClvConfig,
    CompareConfig,
    FeaturesConfig,
    InsightsConfig,
    PatternsConfig,
    PersonasConfig,
    SegmentsConfig,
)
from customer_behavior.config.knobs import (  # noqa: F401  (re-exported)
    knob,
)
from customer_behavior.config.loader import (  # noqa: F401  (re-exported)
    config_from_dict,
    load_config,
    overrides_to_dict,
    with_overrides,
)
from customer_behavior.config.model import (  # noqa: F401  (re-exported)
    SECTION_HELP,
    Config,
)
from customer_behavior.config.run import (  # noqa: F401  (re-exported)
    INPUT_FORMATS,
    GenerateConfig,
    InputConfig,
    OutputConfig,
    SparkSettings,
)
from customer_behavior.config.template import (  # noqa: F401  (re-exported)
    default_config_toml,
)
from customer_behavior.errors import ConfigError  # noqa: F401  (re-exported)
