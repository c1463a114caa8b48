"""The commented mapping template `init-mapping` writes: it documents every mapping key."""

TEMPLATE = '''# customer-behavior input mapping: how your transaction log maps to the canonical schema.
# Use it with:  customer-behavior run --input PATH --mapping THIS_FILE
# Every key is optional. A canonical column that is not listed under [columns] is looked up
# in your file by its own name (case, spaces and underscores ignored: "Customer ID" finds customer_id).

[source]
# auto (by file extension: .csv/.tsv/.txt[.gz], .parquet, .json/.jsonl/.ndjson[.gz]), csv, parquet, json
format = "auto"
# CSV only. "auto" guesses from the header line among , ; tab |. Any string works ("\\t" for tab);
# "whitespace" splits on runs of spaces and tabs (fixed-width-looking exports; no quoting then).
delimiter = "auto"
# Does the first line of every file hold the column names?
header = true
# Without a header: name the columns here (in file order), or refer to them as _c0, _c1, ...
column_names = []
quote = '"'
# The character that escapes a quote inside a quoted field: '"' for doubled quotes ("" as in
# spreadsheet exports), "\\\\" for backslash-escaped quotes.
escape = '"'
# A byte-order mark (UTF-8, UTF-16 LE/BE) wins over this: "Unicode text" exports need no setting.
encoding = "UTF-8"
# Quoted fields holding line breaks (addresses, descriptions): "auto" reads records across lines
# when the first 200 lines hold one; true always (each file is then parsed whole), false never
# (such a record is quarantined as malformed_line).
multiline = "auto"

[columns]
# canonical name = "your column name". Required: customer_id, event_ts, and either amount or
# quantity + unit_price. Optional (absent -> empty, and the analyses that need them are skipped
# with the reason in the report): transaction_id (derived from the row when absent), category,
# quantity, unit_price, discount (a fraction 0..1), payment_method, channel, status.
# transaction_id = "order_id"
# customer_id = "customer_id"
# event_ts = "order_date"
# amount = "total"
# quantity = "qty"
# unit_price = "price"
# category = "category"
# payment_method = "payment_type"
# channel = "channel"
# status = "order_status"

[timestamp]
# Spark datetime patterns, tried in order, e.g. ["yyyyMMdd"], ["dd/MM/yyyy HH:mm", "dd/MM/yyyy"].
# [] = ISO 8601 ("2024-03-01", "2024-03-01 14:30:00", "2024-03-01T14:30:00+02:00").
formats = []
# Zone of timestamps written without an offset: "UTC", a region such as "Europe/Berlin", or "+02:00".
timezone = "UTC"

[amount]
# "amount" (the net amount is a column), "quantity_x_unit_price" (amount = quantity x unit_price
# x (1 - discount)), or "auto" (amount when mapped/present, else the product).
source = "auto"
# Amounts (and unit prices) written for people: "$1,234.50" -> currency_symbols = ["$"],
# thousands_separator = ","; "1.234,50 EUR" -> ["EUR"], ".", decimal_separator = ",".
currency_symbols = []
thousands_separator = ""
decimal_separator = "."

[returns]
# A negative quantity or amount marks a return (status "returned", amount made negative).
negative_is_return = true
# Transaction ids starting with this prefix are returns or cancellations (UCI: "C"). "" = off.
invoice_prefix = ""
# What the prefix marks: "returned" (a refund, negative amount) or "cancelled" (amount 0).
invoice_prefix_status = "returned"
# A regex removed from the end of every customer id, e.g. "\\\\.0$" when a spreadsheet turned ids into floats.
customer_id_strip_suffix = ""

[returns.status_values]
# Values of your status column (case-insensitive) for each canonical status. An empty status
# counts as completed; any other unlisted value is quarantined as unknown_status.
completed = ["completed", "complete", "paid", "ok", "sale", "purchase"]
returned = ["returned", "return", "refund", "refunded"]
cancelled = ["cancelled", "canceled", "cancel", "void"]

# An optional customers table (demographics). Without it the demographic breakdowns are skipped.
# [customers]
# path = "customers.csv"          # relative to this file
# date_formats = ["yyyy-MM-dd"]   # for signup_date
# [customers.source]
# delimiter = "auto"
# [customers.columns]
# customer_id = "id"
# signup_date = "created"
# age = "age"
# gender = "gender"
# country = "country"
# region = "region"
# acquisition_channel = "source"
# is_loyalty_member = "loyalty"   # true/false, yes/no, y/n, 1/0
'''
