"""Column names and schemas of the canonical tables, in one place.

Every stage imports these names instead of retyping string literals.
"""

from pyspark.sql import types as T

# transactions
TRANSACTION_ID = "transaction_id"
CUSTOMER_ID = "customer_id"
EVENT_TS = "event_ts"
CATEGORY = "category"
QUANTITY = "quantity"
UNIT_PRICE = "unit_price"
DISCOUNT = "discount"
AMOUNT = "amount"
PAYMENT_METHOD = "payment_method"
CHANNEL = "channel"
STATUS = "status"

# status values
STATUS_COMPLETED = "completed"
STATUS_RETURNED = "returned"
STATUS_CANCELLED = "cancelled"
STATUSES = (STATUS_COMPLETED, STATUS_RETURNED, STATUS_CANCELLED)

CHANNELS = ("web", "app", "store")

# customers
SIGNUP_DATE = "signup_date"
AGE = "age"
GENDER = "gender"
COUNTRY = "country"
REGION = "region"
ACQUISITION_CHANNEL = "acquisition_channel"
IS_LOYALTY_MEMBER = "is_loyalty_member"

# truth (synthetic data only; the analysis never reads it)
PERSONA = "persona"
DROPOUT_DATE = "dropout_date"
IS_CHURNED = "is_churned"
PURCHASE_RATE = "purchase_rate_per_year"
MEAN_ORDER_VALUE = "mean_order_value"

TRANSACTIONS_SCHEMA = T.StructType(
    [
        T.StructField(TRANSACTION_ID, T.StringType(), False),
        T.StructField(CUSTOMER_ID, T.StringType(), False),
        T.StructField(EVENT_TS, T.TimestampType(), False),
        T.StructField(CATEGORY, T.StringType(), True),
        T.StructField(QUANTITY, T.IntegerType(), True),
        T.StructField(UNIT_PRICE, T.DoubleType(), True),
        T.StructField(DISCOUNT, T.DoubleType(), True),
        T.StructField(AMOUNT, T.DoubleType(), False),
        T.StructField(PAYMENT_METHOD, T.StringType(), True),
        T.StructField(CHANNEL, T.StringType(), True),
        T.StructField(STATUS, T.StringType(), False),
    ]
)

CUSTOMERS_SCHEMA = T.StructType(
    [
        T.StructField(CUSTOMER_ID, T.StringType(), False),
        T.StructField(SIGNUP_DATE, T.DateType(), True),
        T.StructField(AGE, T.IntegerType(), True),
        T.StructField(GENDER, T.StringType(), True),
        T.StructField(COUNTRY, T.StringType(), True),
        T.StructField(REGION, T.StringType(), True),
        T.StructField(ACQUISITION_CHANNEL, T.StringType(), True),
        T.StructField(IS_LOYALTY_MEMBER, T.BooleanType(), True),
    ]
)

TRUTH_SCHEMA = T.StructType(
    [
        T.StructField(CUSTOMER_ID, T.StringType(), False),
        T.StructField(PERSONA, T.StringType(), False),
        T.StructField(SIGNUP_DATE, T.DateType(), False),
        T.StructField(DROPOUT_DATE, T.DateType(), True),
        T.StructField(IS_CHURNED, T.BooleanType(), False),
        T.StructField(PURCHASE_RATE, T.DoubleType(), False),
        T.StructField(MEAN_ORDER_VALUE, T.DoubleType(), False),
    ]
)

# --------------------------------------------------------------------------- derived tables
# customer_features (one row per customer; see features.py for the exact definitions)
RECENCY_DAYS = "recency_days"
ORDERS = "orders"
MONETARY = "monetary"
FIRST_PURCHASE_DATE = "first_purchase_date"
LAST_PURCHASE_DATE = "last_purchase_date"
TENURE_DAYS = "tenure_days"
AVG_ORDER_VALUE = "avg_order_value"
AVG_DAYS_BETWEEN_ORDERS = "avg_days_between_orders"
ACTIVE_MONTHS = "active_months"
DISTINCT_CATEGORIES = "distinct_categories"
FAVOURITE_CATEGORY = "favourite_category"
PREFERRED_PAYMENT_METHOD = "preferred_payment_method"
PREFERRED_CHANNEL = "preferred_channel"
WEEKEND_SHARE = "weekend_share"
RETURN_RATE = "return_rate"
DISCOUNT_SHARE = "discount_share"
AVG_BASKET_SIZE = "avg_basket_size"
RETURNS = "returns"  # number of return rows in the window
AS_OF_DATE = "as_of_date"  # exclusive end of the observation window the features describe
# BTYD summary, named as lifetimes' summary_data_from_transaction_data names them
BTYD_FREQUENCY = "frequency"
BTYD_RECENCY = "recency"
BTYD_T = "T"
BTYD_MONETARY_VALUE = "monetary_value"

# rfm_segments
R_SCORE = "r_score"
F_SCORE = "f_score"
M_SCORE = "m_score"
RFM_CODE = "rfm_code"
SEGMENT = "segment"

# segment_summary
CUSTOMERS = "customers"
CUSTOMER_SHARE = "customer_share"
REVENUE = "revenue"
REVENUE_SHARE = "revenue_share"
MEAN_R_SCORE = "mean_r_score"
MEAN_F_SCORE = "mean_f_score"
MEAN_M_SCORE = "mean_m_score"
MEAN_RECENCY_DAYS = "mean_recency_days"
MEAN_ORDER_VALUE_SEGMENT = "mean_order_value"  # segment revenue / segment orders

# personas
CLUSTER = "cluster"
PERSONA_NAME = "persona_name"

# clv
PROB_ALIVE = "prob_alive"
EXPECTED_PURCHASES = "expected_purchases"
EXPECTED_AVG_SPEND = "expected_avg_spend"
CLV = "clv"
CHURN_RISK = "churn_risk"
DISCOUNTED_PURCHASES = "discounted_purchases"  # sum over the CLV horizon's months of expected purchases / (1+d)^m
ALIVE_BAND = "alive_band"
SEGMENT_GROUP = "segment_group"
# churn_risk values, lowest risk first
CHURN_RISK_BANDS = ("low", "medium", "high", "critical")
# calibration/holdout evaluation
FREQUENCY_HOLDOUT = "frequency_holdout"
PREDICTED_HOLDOUT = "predicted_holdout_purchases"

# patterns (tables/patterns/*; see patterns.py and docs/report.md)
GROUP_TYPE = "group_type"  # all / segment / persona / age_band / channel
GROUP = "group"
DAY_OF_WEEK = "day_of_week"  # ISO: 1 = Monday ... 7 = Sunday
DAY_NAME = "day_name"
HOUR = "hour"
DAY_TYPE = "day_type"  # weekday / weekend
ORDER_VALUE = "order_value"
ORDER_SHARE = "order_share"
BASE_REVENUE_SHARE = "base_revenue_share"
BASE_ORDER_SHARE = "base_order_share"
REVENUE_LIFT = "revenue_lift"
ORDER_LIFT = "order_lift"
AGE_BAND = "age_band"
MONTH = "month"
ACTIVE_CUSTOMERS = "active_customers"
NEW_CUSTOMERS = "new_customers"
IS_PEAK = "is_peak"
COHORT_MONTH = "cohort_month"
MONTHS_SINCE = "months_since_first"
COHORT_SIZE = "cohort_size"
RETENTION = "retention"
ANTECEDENT = "antecedent"
CONSEQUENT = "consequent"
SUPPORT = "support"
CONFIDENCE = "confidence"
LIFT = "lift"
BASKETS = "baskets"
ITEMS = "items"

GROUP_ALL = "all"
GROUP_ALL_LABEL = "All customers"

# insights (tables/insights/*; see insights.py and docs/report.md)
NET_REVENUE = "net_revenue"
AVG_RECENCY_DAYS = "avg_recency_days"
AVG_ORDERS = "avg_orders"
REPEAT_RATE = "repeat_rate"
ACTIVE_SHARE = "active_share"
AT_RISK_CUSTOMERS = "at_risk_customers"
AT_RISK_REVENUE = "at_risk_revenue"
CLV_TOTAL = "clv_total"
AVG_PROB_ALIVE = "avg_prob_alive"
HIGH_CHURN_CUSTOMERS = "high_churn_customers"
HIGH_CHURN_REVENUE = "high_churn_revenue"

# quarantine (rejected input rows: the original columns as strings, then these)
RAW_LINE = "raw_line"  # the whole input line when it could not be split into fields
SOURCE_FILE = "source_file"
REASON = "reason"
