from django.apps import AppConfig


class BoardConfig(AppConfig):
    name = "sampleproject.board"
    label = "board"
    verbose_name = "Status board"

    def ready(self):
        from sampleproject.board.receivers import connect_receivers

        connect_receivers()
