"""The board's views, one module per area."""
