"""PostgreSQL questions against a small shop schema."""

from __future__ import annotations

import random

from tests.sample_generator.shapes import Dialogue, Turn, script

_SQL_SCHEMA = (
    "customers(id, name, email, country, created_at)\n"
    "orders(id, customer_id, total_amount, status, created_at)\n"
    "order_items(order_id, product_id, quantity, unit_price)\n"
    "products(id, name, category, price)"
)


def _sql_openers(rng: random.Random) -> tuple[Turn, ...]:
    n = rng.choice((3, 5, 10, 20))
    year = rng.choice((2024, 2025, 2026))
    country = rng.choice(("DE", "FR", "US", "BR", "JP", "PL"))
    days = rng.choice((30, 60, 90, 180))
    category = rng.choice(("electronics", "kitchen", "outdoor", "books"))
    date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return (
        (
            f"Write a query that returns the top {n} customers by total revenue in {year}.",
            "```sql\nSELECT c.id, c.name, SUM(o.total_amount) AS revenue\n"
            "FROM customers AS c\nJOIN orders AS o ON o.customer_id = c.id\n"
            f"WHERE o.created_at >= DATE '{year}-01-01'\n"
            f"  AND o.created_at < DATE '{year + 1}-01-01'\n"
            "  AND o.status = 'completed'\nGROUP BY c.id, c.name\n"
            f"ORDER BY revenue DESC\nLIMIT {n};\n```\n\nOnly completed orders count as "
            "revenue; drop the status filter if you want refunded orders included.",
        ),
        (
            f"How many orders were placed per month in {year}? Months with no orders should "
            "show 0.",
            "Generate the months first, then left-join the orders:\n\n```sql\n"
            "SELECT m.month, COUNT(o.id) AS orders\n"
            f"FROM generate_series(DATE '{year}-01-01', DATE '{year}-12-01', "
            "INTERVAL '1 month') AS m(month)\n"
            "LEFT JOIN orders AS o\n"
            "  ON o.created_at >= m.month AND o.created_at < m.month + INTERVAL '1 month'\n"
            "GROUP BY m.month\nORDER BY m.month;\n```",
        ),
        (
            f"Find customers from {country} who haven't ordered anything in the last {days} days.",
            "```sql\nSELECT c.id, c.name, c.email\nFROM customers AS c\n"
            f"WHERE c.country = '{country}'\n  AND NOT EXISTS (\n    SELECT 1 FROM orders AS o\n"
            "    WHERE o.customer_id = c.id\n"
            f"      AND o.created_at >= now() - INTERVAL '{days} days'\n  );\n```\n\n"
            "`NOT EXISTS` also returns customers who never ordered at all.",
        ),
        (
            f"Which {n} products in the '{category}' category sold the most units?",
            "```sql\nSELECT p.name, SUM(oi.quantity) AS units\nFROM order_items AS oi\n"
            "JOIN products AS p ON p.id = oi.product_id\n"
            f"WHERE p.category = '{category}'\nGROUP BY p.name\nORDER BY units DESC\n"
            f"LIMIT {n};\n```",
        ),
        (
            "Why is this slow, and how do I fix it? `SELECT * FROM orders WHERE "
            f"date_trunc('day', created_at) = '{date}';`",
            "Wrapping the column in `date_trunc` stops PostgreSQL from using an index on "
            "`created_at`, so it scans the whole table. Compare against a range instead:\n\n"
            f"```sql\nSELECT *\nFROM orders\nWHERE created_at >= DATE '{date}'\n"
            f"  AND created_at < DATE '{date}' + INTERVAL '1 day';\n```\n\n"
            "With an index on `orders (created_at)` this becomes an index range scan.",
        ),
        (
            f"What's the average order value per country, only for countries with more than "
            f"{n * 10} orders?",
            "```sql\nSELECT c.country, ROUND(AVG(o.total_amount), 2) AS avg_order_value,\n"
            "       COUNT(*) AS orders\nFROM orders AS o\n"
            "JOIN customers AS c ON c.id = o.customer_id\nGROUP BY c.country\n"
            f"HAVING COUNT(*) > {n * 10}\nORDER BY avg_order_value DESC;\n```",
        ),
    )


def sql_dialogue(rng: random.Random) -> Dialogue:
    """Script a PostgreSQL question against a small shop schema.

    Args:
        rng: The random source.

    Returns:
        The dialogue, in the sql category.
    """
    system = (
        "You are a SQL assistant for a PostgreSQL 16 database with these tables:\n" + _SQL_SCHEMA
    )
    follow_ups = (
        (
            "Can you add the customer's email to the output?",
            "Join `customers` on `customers.id = orders.customer_id` if the query doesn't "
            "already, and add `customers.email` to the SELECT list. Since `customers.id` is the "
            "primary key, grouping by it is enough for PostgreSQL to accept the extra column.",
        ),
        (
            "What index would help this query?",
            "An index on `orders (customer_id, created_at)` covers both the join and the date "
            "filter:\n\n```sql\nCREATE INDEX CONCURRENTLY orders_customer_created_idx\n"
            "  ON orders (customer_id, created_at);\n```\n\nCompare `EXPLAIN (ANALYZE, BUFFERS)` "
            "before and after.",
        ),
        (
            "Would this work in MySQL too?",
            "Mostly. `generate_series` and quoted `INTERVAL '1 day'` literals are PostgreSQL "
            "syntax: in MySQL 8 use a recursive CTE for the series and `INTERVAL 1 DAY`. Joins, "
            "`DATE 'YYYY-MM-DD'` literals and `LIMIT` work as they are.",
        ),
        (
            "Can you write it with a CTE so it's easier to read?",
            "Sure: move the aggregation into a CTE and select from it, as in `WITH totals AS "
            "(...) SELECT * FROM totals ORDER BY 2 DESC;`. PostgreSQL 12 and later inline "
            "simple CTEs, so it costs nothing.",
        ),
        ("Perfect, thanks!", "Happy to help!"),
    )
    opener = rng.choice(_sql_openers(rng))
    return Dialogue("sql", system, script(rng, opener, follow_ups))
