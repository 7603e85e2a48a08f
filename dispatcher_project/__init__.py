"""Django project: settings, configuration loading, root URLs, WSGI/ASGI entry points."""
