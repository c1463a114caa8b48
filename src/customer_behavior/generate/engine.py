"""Turn the spec into Spark DataFrames: customers, transactions and the planted truth.

Everything starts from `spark.range` and hash-derived streams, so the driver holds only
the configuration and the output does not depend on partitioning. Customers first; then
each customer's orders by exploding a per-customer Poisson count over the time the
customer is alive (a BTYD-style process: Gamma-distributed rates, exponential lifetimes).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.compat import default_parallelism
from customer_behavior.config import GenerateConfig
from customer_behavior.generate import spec
from customer_behavior.generate.random import choose, exponential, gamma, per_group, poisson, standard_normal, uniform

SECONDS_PER_DAY = 86_400
_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class SyntheticData:
    customers_df: DataFrame
    transactions_df: DataFrame
    truth_df: DataFrame


def window_days(cfg: GenerateConfig) -> int:
    return (cfg.end_date - cfg.start_date).days + 1


def effective_rate_scale(cfg: GenerateConfig) -> float:
    if cfg.target_transactions > 0:
        return spec.rate_scale_for_target(cfg.target_transactions, cfg.customers, window_days(cfg))
    return cfg.rate_scale


def _season_thinning() -> tuple[float, float]:
    """(max weight, day-weighted mean weight) of the monthly seasonality."""
    days = [calendar.monthrange(2023, m)[1] for m in range(1, 13)]
    mean = sum(w * d for w, d in zip(spec.MONTH_WEIGHTS, days)) / sum(days)
    return max(spec.MONTH_WEIGHTS), mean


def cents(amount: Column) -> Column:
    """A non-negative amount rounded half up to cents. Spark's round() of a double goes
    through BigDecimal and a decimal string, a tenth of the generator's time."""
    return F.floor(amount * F.lit(100.0) + F.lit(0.5)) / F.lit(100.0)


def _day_season_weight(day: Column, cfg: GenerateConfig) -> Column:
    """The month weight of each day of the window, looked up by day number (no date arithmetic per row)."""
    weights = [spec.MONTH_WEIGHTS[(cfg.start_date + dt.timedelta(days=d)).month - 1] for d in range(window_days(cfg))]
    table = F.split(F.lit(",".join(map(repr, weights))), ",").cast("array<double>")
    return F.element_at(table, (day + F.lit(1)).cast("int"))


def _shift_to_weekday(day: Column, start: dt.date, target_dow: Column, low: Column, high: Column) -> Column:
    monday_based = (day + F.lit(start.weekday())) % F.lit(7)  # Monday = 0, by arithmetic on the day number
    shifted = day - monday_based + target_dow
    shifted = F.when(shifted < low, shifted + F.lit(7)).when(shifted > high, shifted - F.lit(7)).otherwise(shifted)
    return F.when((shifted >= low) & (shifted <= high), shifted).otherwise(day).cast("int")


def _target_weekday(persona: Column, u_weekend: Column, u_day: Column) -> Column:
    weekend_share = per_group(persona, [p.weekend_share for p in spec.PERSONAS])
    return F.when(u_weekend < weekend_share, F.lit(5) + F.floor(u_day * 2)).otherwise(F.floor(u_day * 5)).cast("int")


def with_draws(df: DataFrame, seed: int, ids: list[Column], uniforms: Sequence[str] = (), normals: Sequence[str] = ()) -> DataFrame:
    """Attach the named random draws as columns `u_<name>` and `z_<name>`.

    Materialising each draw once matters: a draw referenced inside a CASE chain would
    otherwise be copied into every branch and blow up the generated code.
    """
    draws = [uniform(seed, name, *ids).alias(f"u_{name}") for name in uniforms]
    draws += [standard_normal(seed, name, *ids).alias(f"z_{name}") for name in normals]
    return df.select("*", *draws)


def _u(name: str) -> Column:
    return F.col(f"u_{name}")


def _z(name: str) -> Column:
    return F.col(f"z_{name}")


def _persona_constant(values: list[float | int | str]) -> Column:
    return per_group(F.col("persona_idx"), values)


def customer_base(spark: SparkSession, cfg: GenerateConfig, *, partitions: int | None = None) -> DataFrame:
    """One row per customer with every latent draw the three tables derive from."""
    seed, n_days = cfg.seed, window_days(cfg)
    scale = effective_rate_scale(cfg)
    season_max, season_mean = _season_thinning()
    cores = default_parallelism(spark)
    # a whole number of waves over the cores, about 250,000 customers (~3.5M transactions) each
    num_partitions = partitions or cores * max(1, -(-cfg.customers // (cores * 250_000)))
    personas = spec.PERSONAS
    persona_shares = [spec.cumulative(tuple(p.share for p in personas))]

    return (
        spark.range(0, cfg.customers, numPartitions=num_partitions)
        .transform(
            with_draws, seed, [F.col("id")],
            uniforms=["persona", "birth", "birth_weekend", "birth_weekday", "lifetime", "orders"],
            normals=["rate", "value"],
        )
        .withColumn("persona_idx", choose(_u("persona"), F.lit(0), persona_shares, list(range(len(personas)))))
        .withColumn(C.CUSTOMER_ID, F.format_string("C%09d", F.col("id")))
        .withColumn("raw_birth_day", F.floor(_u("birth") * F.lit(n_days)).cast("int"))
        .withColumn("birth_target_dow", _target_weekday(F.col("persona_idx"), _u("birth_weekend"), _u("birth_weekday")))
        .withColumn("birth_day", _shift_to_weekday(F.col("raw_birth_day"), cfg.start_date, F.col("birth_target_dow"), F.lit(0), F.lit(n_days - 1)))
        .withColumn(
            "rate_per_year",
            gamma(_persona_constant([p.rate_shape for p in personas]), _persona_constant([p.orders_per_year * scale for p in personas]), _z("rate")),
        )
        .withColumn("lifetime_days", exponential(_persona_constant([p.lifetime_days_mean for p in personas]), _u("lifetime")))
        .withColumn("dropout_day", F.col("birth_day") + F.col("lifetime_days"))
        .withColumn("is_churned", F.col("dropout_day") < F.lit(float(n_days)))
        .withColumn("active_span", F.least(F.col("dropout_day"), F.lit(float(n_days))) - F.col("birth_day"))
        .withColumn(
            "log_median_value",
            F.log(_persona_constant([p.median_order_value for p in personas])) + _persona_constant([p.customer_value_sigma for p in personas]) * _z("value"),
        )
        .withColumn("order_sigma", _persona_constant([p.order_value_sigma for p in personas]))
        .withColumn("expected_candidates", F.col("rate_per_year") / F.lit(365.25) * F.col("active_span") * F.lit(season_max / season_mean))
        .withColumn("candidate_orders", poisson(F.col("expected_candidates"), _u("orders")))
    )


def customers_from_base(base_df: DataFrame, cfg: GenerateConfig) -> DataFrame:
    seed, personas = cfg.seed, spec.PERSONAS
    countries = [c for c, _, _ in spec.COUNTRIES]
    regions = [r for _, r, _ in spec.COUNTRIES]
    age = F.least(
        F.greatest(F.round(_persona_constant([p.age_mean for p in personas]) + _persona_constant([p.age_sd for p in personas]) * _z("age")), F.lit(18.0)),
        F.lit(90.0),
    )
    return (
        base_df.select("id", C.CUSTOMER_ID, "persona_idx", "birth_day")
        .transform(with_draws, seed, [F.col("id")], uniforms=["country", "signup_lead", "gender", "acquisition", "loyalty"], normals=["age"])
        .withColumn("country_idx", choose(_u("country"), F.lit(0), [spec.cumulative(tuple(w for _, _, w in spec.COUNTRIES))], list(range(len(countries)))))
        .select(
            F.col(C.CUSTOMER_ID),
            F.date_add(F.lit(cfg.start_date), F.col("birth_day") - F.floor(_u("signup_lead") * F.lit(15)).cast("int")).alias(C.SIGNUP_DATE),
            age.cast("int").alias(C.AGE),
            choose(_u("gender"), F.col("persona_idx"), [spec.cumulative(p.gender_weights) for p in personas], list(spec.GENDERS)).alias(C.GENDER),
            per_group(F.col("country_idx"), countries).alias(C.COUNTRY),
            per_group(F.col("country_idx"), regions).alias(C.REGION),
            choose(
                _u("acquisition"), F.col("persona_idx"), [spec.cumulative(p.acquisition_weights) for p in personas], list(spec.ACQUISITION_CHANNELS)
            ).alias(C.ACQUISITION_CHANNEL),
            (_u("loyalty") < _persona_constant([p.loyalty_probability for p in personas])).alias(C.IS_LOYALTY_MEMBER),
        )
    )


def truth_from_base(base_df: DataFrame, cfg: GenerateConfig) -> DataFrame:
    return base_df.select(
        F.col(C.CUSTOMER_ID),
        _persona_constant(list(spec.PERSONA_KEYS)).alias(C.PERSONA),
        F.date_add(F.lit(cfg.start_date), F.col("birth_day")).alias(C.SIGNUP_DATE),
        F.when(F.col("is_churned"), F.date_add(F.lit(cfg.start_date), F.floor(F.col("dropout_day")).cast("int"))).alias(C.DROPOUT_DATE),
        F.col("is_churned").alias(C.IS_CHURNED),
        F.col("rate_per_year").alias(C.PURCHASE_RATE),
        F.exp(F.col("log_median_value") + F.col("order_sigma") * F.col("order_sigma") / F.lit(2.0)).alias(C.MEAN_ORDER_VALUE),
    )


MAX_LINES_PER_ORDER = 40


def explode_lines(orders_df: DataFrame, cfg: GenerateConfig) -> DataFrame:
    """One row per line of each order: 1 + Poisson(lines_per_order - 1) drawn lines (at most
    MAX_LINES_PER_ORDER). The first line keeps the order's category and quantity; the others
    draw theirs from the persona's mix. The order's value is split over its lines in
    proportion to quantity x a weight in (0.5, 1.5) (the first line's weight is 1), each line
    priced as quantity x unit price x (1 - the order's discount). Drawn lines of one category
    and unit price are one line of their summed quantity, as a shop's export writes them: an
    order never holds two identical lines (which ingest would take for a double export when
    the log has ids). With one line the row is exactly today's order row; every draw hashes
    (seed, customer, order, line)."""
    seed, personas, persona = cfg.seed, spec.PERSONAS, F.col("persona_idx")
    ids = [F.col("id"), F.col("order_no")]
    extra = poisson(F.lit(cfg.lines_per_order - 1.0), uniform(seed, "lines", *ids))
    n_lines = F.least(F.lit(1) + extra, F.lit(MAX_LINES_PER_ORDER)).cast("int")

    def drawn(i: Column) -> Column:
        is_first = i == F.lit(0)
        category = choose(uniform(seed, "line_category", *ids, i), persona, [spec.cumulative(p.category_weights) for p in personas], list(spec.CATEGORIES))
        quantity = choose(uniform(seed, "line_quantity", *ids, i), persona, [spec.cumulative(p.quantity_weights) for p in personas], list(spec.QUANTITIES))
        weight = F.when(is_first, F.lit(1.0)).otherwise(F.lit(0.5) + uniform(seed, "line_weight", *ids, i))
        quantity = F.when(is_first, F.col(C.QUANTITY)).otherwise(quantity.cast("int"))
        return F.struct(
            F.when(is_first, F.col(C.CATEGORY)).otherwise(category).alias(C.CATEGORY), quantity.alias(C.QUANTITY), (weight * quantity).alias("weight")
        )

    def priced(line: Column) -> Column:
        unit_price = F.greatest(cents(F.col("gross") * line["weight"] / F.col("_weight") / line[C.QUANTITY]), F.lit(0.01))
        return F.struct(line[C.CATEGORY].alias(C.CATEGORY), unit_price.alias(C.UNIT_PRICE), line[C.QUANTITY].alias(C.QUANTITY))

    def merged(key: Column) -> Column:
        same = F.filter(F.col("_priced"), lambda line: (line[C.CATEGORY] == key[C.CATEGORY]) & (line[C.UNIT_PRICE] == key[C.UNIT_PRICE]))
        quantity = F.aggregate(same, F.lit(0), lambda acc, line: acc + line[C.QUANTITY])
        return F.struct(key[C.CATEGORY].alias(C.CATEGORY), key[C.UNIT_PRICE].alias(C.UNIT_PRICE), quantity.alias(C.QUANTITY))

    lines = F.transform(F.sequence(F.lit(0), n_lines - F.lit(1)), drawn)
    total_weight = F.aggregate(F.col("_lines").getField("weight"), F.lit(0.0), lambda acc, w: acc + w)
    keys = F.array_distinct(F.transform(F.col("_priced"), lambda line: F.struct(line[C.CATEGORY].alias(C.CATEGORY), line[C.UNIT_PRICE].alias(C.UNIT_PRICE))))
    current = F.col("_line")
    return (
        orders_df.withColumn("_lines", lines)
        .withColumn("_weight", total_weight)
        .withColumn("_priced", F.transform(F.col("_lines"), priced))
        .withColumn("_line", F.explode(F.transform(keys, merged)))
        .withColumn(C.CATEGORY, current[C.CATEGORY])
        .withColumn(C.QUANTITY, current[C.QUANTITY])
        .withColumn(C.UNIT_PRICE, current[C.UNIT_PRICE])
        .withColumn("order_amount", cents(F.col(C.QUANTITY) * F.col(C.UNIT_PRICE) * (F.lit(1.0) - F.col(C.DISCOUNT))))
        .drop("_lines", "_weight", "_priced", "_line")
    )


def transactions_from_base(base_df: DataFrame, cfg: GenerateConfig) -> DataFrame:
    seed, n_days, personas = cfg.seed, window_days(cfg), spec.PERSONAS
    season_max, _ = _season_thinning()
    order = F.col("order_no")
    persona = F.col("persona_idx")
    start_epoch_s = (cfg.start_date - _EPOCH).days * SECONDS_PER_DAY
    window_end_s = start_epoch_s + n_days * SECONDS_PER_DAY

    def pick(stream: str, weights_of, values) -> Column:
        return choose(_u(stream), persona, [spec.cumulative(weights_of(p)) for p in personas], list(values))

    orders_df = (
        base_df.select("id", C.CUSTOMER_ID, "persona_idx", "birth_day", "dropout_day", "active_span", "log_median_value", "order_sigma", "candidate_orders")
        .withColumn("order_no", F.explode(F.sequence(F.lit(0), F.col("candidate_orders"))))
        .transform(with_draws, seed, [F.col("id"), order], uniforms=["day", "season"])
        .withColumn("raw_day", (F.col("birth_day") + F.floor(_u("day") * F.col("active_span"))).cast("int"))
        .withColumn("season_weight", _day_season_weight(F.col("raw_day"), cfg))
        # Thinning turns the flat Poisson process into a seasonal one; the first purchase always stays.
        .filter((order == F.lit(0)) | (_u("season") * F.lit(season_max) <= F.col("season_weight")))
        .transform(
            with_draws, seed, [F.col("id"), order],
            uniforms=["weekend", "weekday", "hour", "second", "quantity", "has_discount", "discount", "status", "category", "payment", "channel", "return_delay"],
            normals=["order_value"],
        )
        .withColumn("last_active_day", F.greatest(F.least(F.ceil(F.col("dropout_day")).cast("int") - F.lit(1), F.lit(n_days - 1)), F.col("birth_day")))
        .withColumn("target_dow", _target_weekday(persona, _u("weekend"), _u("weekday")))
        .withColumn(
            "day",
            F.when(order == F.lit(0), F.col("birth_day")).otherwise(
                _shift_to_weekday(F.col("raw_day"), cfg.start_date, F.col("target_dow"), F.col("birth_day"), F.col("last_active_day"))
            ),
        )
        .withColumn("hour", pick("hour", lambda p: p.hours, range(24)))
        .withColumn(C.QUANTITY, pick("quantity", lambda p: p.quantity_weights, spec.QUANTITIES).cast("int"))
        .withColumn("gross", F.exp(F.col("log_median_value") + F.col("order_sigma") * _z("order_value")))
        .withColumn(C.UNIT_PRICE, F.greatest(cents(F.col("gross") / F.col(C.QUANTITY)), F.lit(0.01)))
        .withColumn(
            C.DISCOUNT,
            F.when(
                _u("has_discount") < _persona_constant([p.discount_probability for p in personas]),
                choose(_u("discount"), F.lit(0), [spec.cumulative(spec.DISCOUNT_LEVEL_WEIGHTS)], list(spec.DISCOUNT_LEVELS)),
            ).otherwise(F.lit(0.0)),
        )
        .withColumn("order_amount", cents(F.col(C.QUANTITY) * F.col(C.UNIT_PRICE) * (F.lit(1.0) - F.col(C.DISCOUNT))))
        .withColumn("cancel_p", _persona_constant([p.cancel_probability for p in personas]))
        .withColumn("return_p", _persona_constant([p.return_probability for p in personas]))
        .withColumn("is_cancelled", _u("status") < F.col("cancel_p"))
        .withColumn("is_returned", (_u("status") >= F.col("cancel_p")) & (_u("status") < F.col("cancel_p") + F.col("return_p")))
        .withColumn(
            "order_seconds",
            F.lit(start_epoch_s) + F.col("day").cast("long") * F.lit(SECONDS_PER_DAY) + F.col("hour").cast("long") * F.lit(3600)
            + F.floor(_u("second") * F.lit(3600)).cast("long"),
        )
        .withColumn(C.CATEGORY, pick("category", lambda p: p.category_weights, spec.CATEGORIES))
        .withColumn(C.PAYMENT_METHOD, pick("payment", lambda p: p.payment_weights, spec.PAYMENT_METHODS))
        .withColumn(C.CHANNEL, pick("channel", lambda p: p.channel_weights, spec.CHANNELS))
    )

    if cfg.lines_per_order > 1:
        orders_df = orders_df.transform(explode_lines, cfg)
    # A returned order is a refund (negative) of each line some days later.
    is_refund = F.col("line") == F.lit(1)
    return_delay_s = (F.lit(1.0) + _u("return_delay") * F.lit(spec.RETURN_DELAY_DAYS - 1)) * F.lit(float(SECONDS_PER_DAY))
    sign = F.when(is_refund, F.lit(-1)).otherwise(F.lit(1))
    return (
        orders_df.withColumn("line", F.explode(F.sequence(F.lit(0), F.col("is_returned").cast("int"))))
        .withColumn("event_seconds", F.when(is_refund, F.col("order_seconds") + return_delay_s.cast("long")).otherwise(F.col("order_seconds")))
        .filter(F.col("event_seconds") < F.lit(window_end_s))
        .select(
            F.concat(
                F.lit("T"), F.col(C.CUSTOMER_ID).substr(2, 1_000), F.lit("-"), F.lpad(order.cast("string"), 5, "0"),
                F.when(is_refund, F.lit("-R")).otherwise(F.lit("")),
            ).alias(C.TRANSACTION_ID),
            F.col(C.CUSTOMER_ID),
            F.timestamp_seconds(F.col("event_seconds")).alias(C.EVENT_TS),
            F.col(C.CATEGORY),
            (F.col(C.QUANTITY) * sign).cast("int").alias(C.QUANTITY),
            F.col(C.UNIT_PRICE),
            F.col(C.DISCOUNT),
            F.when(F.col("is_cancelled"), F.lit(0.0)).otherwise(F.col("order_amount") * sign).alias(C.AMOUNT),
            F.col(C.PAYMENT_METHOD),
            F.col(C.CHANNEL),
            F.when(is_refund, F.lit(C.STATUS_RETURNED))
            .when(F.col("is_cancelled"), F.lit(C.STATUS_CANCELLED))
            .otherwise(F.lit(C.STATUS_COMPLETED))
            .alias(C.STATUS),
        )
    )


def generate(spark: SparkSession, cfg: GenerateConfig, *, partitions: int | None = None) -> SyntheticData:
    """The three synthetic tables as lazy DataFrames (nothing runs until they are written)."""
    base_df = customer_base(spark, cfg, partitions=partitions)
    return SyntheticData(
        customers_df=customers_from_base(base_df, cfg),
        transactions_df=transactions_from_base(base_df, cfg),
        truth_df=truth_from_base(base_df, cfg),
    )
