from django.apps import AppConfig


class BoardConfig(AppConfig):
    name = "sampleproject.board"
    label = "board"
    verbose_name = "Status board"
