"""Configuration: defaults, TOML, overrides, and errors that name the key."""

from __future__ import annotations

import datetime as dt
import tomllib

import pytest

from customer_behavior.config import Config, default_config_toml, load_config, with_overrides
from customer_behavior.errors import ConfigError
from customer_behavior.session import auto_driver_memory, local_master, session_conf
from customer_behavior.config import SparkSettings


def test_defaults():
    cfg = Config()
    assert cfg.generate.customers == 100_000
    assert cfg.generate.seed == 42
    assert cfg.generate.start_date == dt.date(2023, 1, 1)
    assert cfg.output.path == "out/run"


def test_default_toml_round_trips_to_the_defaults(tmp_path):
    text = default_config_toml()
    assert "# Number of synthetic customers" in text
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert load_config(path) == Config()
    assert tomllib.loads(text)["generate"]["customers"] == 100_000


def test_file_then_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[generate]\ncustomers = 10\nseed = 9\n[spark]\nconf = {"spark.x" = "1"}\n')
    cfg = load_config(path, {"generate.seed": 5, "generate.customers": None})
    assert (cfg.generate.customers, cfg.generate.seed) == (10, 5)
    assert cfg.spark.conf == {"spark.x": "1"}
    assert with_overrides(cfg, {"output.path": "x"}).output.path == "x"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[generate]\ncustmers = 5\n", "unknown config key 'generate.custmers'; allowed keys in [generate]: customers, seed"),
        ("[generat]\n", "unknown config section '[generat]'; allowed sections: spark, generate, output"),
        ("[generate]\ncustomers = 0\n", "generate.customers: 0 must be a whole number of at least 1"),
        ("[generate]\ncustomers = -4\n", "generate.customers: -4 must be a whole number of at least 1"),
        ("[generate]\ncustomers = 2.5\n", "generate.customers: 2.5 is not a whole number"),
        ('[generate]\ncustomers = "many"\n', "generate.customers: 'many' is not a whole number"),
        ('[generate]\nstart_date = "2024-13-01"\n', "generate.start_date: '2024-13-01' is not a date (YYYY-MM-DD)"),
        ("[generate]\nstart_date = 2025-01-01\n", "generate.end_date: 2024-12-31 must be after generate.start_date 2025-01-01"),
        ("[generate]\nrate_scale = 0\n", "generate.rate_scale: 0.0 must be > 0"),
        ('[spark]\ndriver_memory = "lots"\n', "spark.driver_memory: 'lots' is not a memory size"),
        ("[spark]\nui = 3\n", "spark.ui: 3 is not true or false"),
        ("[output]\npath = \"  \"\n", "output.path: must not be empty"),
        ("generate = 3\n", "generate: must be a table"),
    ],
)
def test_bad_config_names_the_key(tmp_path, toml, message):
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist; write one with 'customer-behavior init-config'"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[generate\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(bad)


def test_session_settings_for_a_laptop():
    conf = session_conf(SparkSettings())
    assert conf["spark.master"] == local_master()
    assert conf["spark.master"].endswith(",4]")  # local[N,F] honours task retries
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.driver.bindAddress"] == "127.0.0.1"
    assert int(conf["spark.sql.shuffle.partitions"]) >= 4
    assert conf["spark.driver.memory"] == auto_driver_memory()
    custom = session_conf(SparkSettings(master="spark://h:7077", conf={"spark.sql.shuffle.partitions": 17}), event_log_dir=None)
    assert custom["spark.master"] == "spark://h:7077"
    assert custom["spark.sql.shuffle.partitions"] == "17"
    assert "spark.driver.bindAddress" not in custom


def test_amount_format_keys_are_checked_by_name():
    import pytest as _pytest

    from customer_behavior.errors import ConfigError as _ConfigError
    from customer_behavior.ingest.amounts import guess_amount_format
    from customer_behavior.ingest.mapping import AmountFormat, mapping_from_dict

    with _pytest.raises(_ConfigError, match=r"^amount.decimal_separator: ';' must be"):
        mapping_from_dict({"amount": {"decimal_separator": ";"}})
    with _pytest.raises(_ConfigError, match=r"^amount.thousands_separator: ',' is also the decimal separator"):
        mapping_from_dict({"amount": {"thousands_separator": ",", "decimal_separator": ","}})
    with _pytest.raises(_ConfigError, match=r"^amount.currency_symbols: '1\$' must be text without digits"):
        mapping_from_dict({"amount": {"currency_symbols": ["1$"]}})
    with _pytest.raises(_ConfigError, match=r"^source.multiline: 'yes' is not"):
        mapping_from_dict({"source": {"multiline": "yes"}})
    assert mapping_from_dict({"amount": {"currency_symbols": ["$"]}}).amount_format == AmountFormat(currency_symbols=("$",))
    # no guess when the values read, or when no setting would read them
    assert guess_amount_format(["12.50", "3", ""], AmountFormat()) is None
    assert guess_amount_format(["n/a", "abc", "-"], AmountFormat()) is None
    assert guess_amount_format(["12,50", "3,10"], AmountFormat()).endswith("set amount.decimal_separator = \",\" in the mapping")
