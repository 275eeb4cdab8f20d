"""The status board app: services, their checks and their incidents."""
