"""Built-in mappings for well-known public layouts, kept as TOML text (pure data).

`init-mapping --preset NAME` writes the text, so a user can start from a preset and edit it.
"""

from __future__ import annotations

import tomllib

from customer_behavior.errors import ConfigError

UCI_ONLINE_RETAIL = '''# customer-behavior mapping: the UCI Online Retail layout
# (InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country).
# One row is one invoice line; invoices starting with "C" are cancellations, which the data
# records as negative quantities (refunds): they become status "returned" with a negative amount.
# The Kaggle CSV export is Latin-1; set encoding = "ISO-8859-1" if descriptions look garbled.

[source]
format = "auto"
delimiter = "auto"
header = true

[columns]
transaction_id = "InvoiceNo"
customer_id = "CustomerID"
event_ts = "InvoiceDate"
quantity = "Quantity"
unit_price = "UnitPrice"

[timestamp]
# "12/1/2010 8:26" in the original CSV export; ISO in the Online Retail II export.
formats = ["M/d/yyyy H:mm", "M/d/yyyy H:mm:ss", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm"]
timezone = "Europe/London"

[amount]
source = "quantity_x_unit_price"

[returns]
negative_is_return = true
invoice_prefix = "C"
invoice_prefix_status = "returned"
# CustomerID is numeric in the spreadsheet; exports often write it as 17850.0
customer_id_strip_suffix = "\\\\.0$"
'''

PRESETS = {"uci": UCI_ONLINE_RETAIL}


def preset_toml(name: str) -> str:
    try:
        return PRESETS[name.lower()]
    except KeyError:
        raise ConfigError(f"input.preset: {name!r} is not a built-in preset; choose one of {', '.join(sorted(PRESETS))}") from None


def preset_dict(name: str) -> dict:
    return tomllib.loads(preset_toml(name))
