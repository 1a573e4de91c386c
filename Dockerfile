# alerter's image: the web app (`alerter serve`) and the worker (`alerter worker`) run from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# The templates live beside the packages (templates/), so the project is installed in place.
COPY pyproject.toml README.md ./
COPY alerter ./alerter
COPY subscriptions ./subscriptions
COPY templates ./templates
RUN pip install -e . \
    && useradd --create-home --uid 10001 alerter \
    && mkdir -p /data && chown alerter /data

USER alerter
WORKDIR /data
EXPOSE 8000
CMD ["alerter", "serve", "--host", "0.0.0.0", "--port", "8000"]
