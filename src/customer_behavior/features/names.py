"""Names and bounds shared by the feature aggregations (internal columns, money types, pivot limits)."""

from __future__ import annotations

from pyspark.sql import types as T

from customer_behavior import columns as C

MONEY = T.DecimalType(18, 6)
MONEY_SUM = T.DecimalType(28, 6)

_DAY = "day"
_LINES = "order_lines"
_ORDER_SPEND = "order_spend"
_RETURNED_SPEND = "returned_spend"
_WEEKEND_ORDERS = "weekend_orders"
_DISCOUNTED_ORDERS = "discounted_orders"
_PURCHASE_DAYS = "purchase_days"
_MONTH = "month"
_ORDER_MICROS = "order_micros"
_RETURN_MICROS = "return_micros"
_FIRST_DAY_MICROS = "first_day_micros"
_QUANTITY_SUM = "quantity_sum"
_QUANTITY_COUNT = "quantity_count"
_MONTH_BITS = "month_bits"
_IS_PURCHASE = "is_purchase"
_ORDER_KEY = "order_key"
_PURCHASE_LINES = "purchase_lines"
_RETURN_LINES = "return_lines"
_DISCOUNTED_LINES = "discounted_lines"
_IS_RETURN = "is_return"
_IS_DISCOUNTED = "is_discounted"
_DAY_ORDERS = "day_orders"
_DAY_RETURNS = "day_returns"

# Categorical columns counted per value in the one-pass aggregation, and how many values
# each may have before the features fall back to collecting order lines into arrays.
PIVOT_COLUMNS = (C.CATEGORY, C.PAYMENT_METHOD, C.CHANNEL)
MAX_PIVOT_VALUES = 64
MICROS = 1_000_000
# extra columns of the event_day_bounds row
MAX_ABS_AMOUNT = "max_abs_amount"
HAS_TIME_OF_DAY = "has_time_of_day"  # some event has a time other than midnight
MONTH_WORD_BITS = 63
