# The service image: `clone-recording serve` applies migrations, then serves on port 8000.
FROM python:3.11-slim
WORKDIR /srv
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY schema ./schema
# The `clone-recording` script comes with the producer package; the service plugs into it.
COPY client ./client
RUN pip install --no-cache-dir './client[cli]' . && useradd --system recording
USER recording
EXPOSE 8000
CMD ["clone-recording", "serve", "--host", "0.0.0.0", "--port", "8000"]
