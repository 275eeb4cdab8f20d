"""The sample project: a live status board for the HTTP services a team uses."""
