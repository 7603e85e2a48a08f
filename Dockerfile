# syntax=docker/dockerfile:1
# Message Dispatcher: one image for the API (gunicorn, the default command), the dispatcher
# (`python manage.py run_dispatcher`) and migrations (`python manage.py migrate`).
#   docker build -t message-dispatcher .        (or: make docker-build, docker compose up --build)
# It needs DATABASE_URL at run time: the embedded PostgreSQL of `make run` is not in the image.

# --- builder: a virtualenv with the runtime dependencies --------------------------------------
FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /build
COPY requirements.txt .
# Every pinned package ships a manylinux wheel, so no compiler is needed even here. pgserver (the
# embedded development PostgreSQL) is left out: settings import it only when DATABASE_URL is empty.
RUN python -m venv /opt/venv \
    && grep -v '^pgserver' requirements.txt > /tmp/requirements.txt \
    && /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt

# --- runtime: the virtualenv and the code, nothing else ----------------------------------------
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=dispatcher_project.settings \
    HOST=0.0.0.0 \
    PORT=8080

# A home directory, because gunicorn keeps its control socket under ~/.gunicorn.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# The code stays owned by root (read-only for the app user); .data/ is the app user's, for the
# development secret key that settings write there when DJANGO_SECRET_KEY is not set.
COPY . .
RUN mkdir -p /app/.data && chown app:app /app/.data

# Static files (admin, browsable API, Swagger UI) are collected into the image and served by
# WhiteNoise. Settings need a DATABASE_URL to import but do not connect; these values exist only
# for this one command.
RUN DATABASE_URL=postgres://build@localhost/build DJANGO_SECRET_KEY=collectstatic-only \
    python manage.py collectstatic --noinput --verbosity 0

USER app

EXPOSE 8080

# slim has no curl: Python's urllib asks /health (liveness; urlopen fails on any non-2xx answer).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8080'), timeout=4)"]

# gunicorn.conf.py binds $HOST:$PORT (0.0.0.0:8080 here: every interface of the container) and
# sizes the workers from the CPUs it may use.
# Exec form: gunicorn receives SIGTERM (graceful stop) and SIGHUP (graceful reload) itself.
CMD ["gunicorn", "--config", "/app/gunicorn.conf.py", "dispatcher_project.wsgi"]
