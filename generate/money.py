"""Money as the feed writes it, a string of pounds with 2 decimals, and as whole pence."""


def format_money(cents: int) -> str:
    """`1299` -> `"12.99"`."""
    return f"{cents // 100}.{cents % 100:02d}"


def parse_money(money: str) -> int:
    """`"12.99"` -> `1299`; only for strings `format_money` wrote."""
    return int(money.replace(".", ""))
