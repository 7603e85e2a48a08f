"""The Django app: models, API, admin, commands and the composition root."""
