"""Runnable example modules shown on the site's pages, grouped like the pages."""
