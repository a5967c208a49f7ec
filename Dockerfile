# The studio in a container. It listens beyond localhost, so it refuses to start without a login:
#   docker build -t studio .
#   docker run -p 7860:7860 -e STUDIO_AUTH=me:secret -v studio-workspace:/app/workspace studio
# GPU (the torch wheel PyPI serves for x86_64 Linux is the CUDA build): add --gpus all.
# BASE: any Debian/Ubuntu image with python3.11 + venv (official python:3.11-slim-bookworm by default).
ARG BASE=python:3.11-slim-bookworm

# ---- builder: every Python dependency, at the versions pinned in requirements.txt, into /opt/venv
FROM ${BASE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# python3: /usr/local/bin on the official image, /usr/bin on a Debian one; the venv works with either
RUN python3 -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# torch==2.13.0 is pinned there: pip takes exactly that release (no torch preinstalled in the base to conflict with)
RUN /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt \
 && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +

# ---- final: the venv, the app, no compilers, not root
FROM ${BASE}
# tcmalloc: training workers' host memory stays close to what is live (studio/core/machine.py finds it via ldconfig)
RUN if ! ldconfig -p | grep -q libtcmalloc_minimal.so.4; then \
      apt-get update && apt-get install -y --no-install-recommends libtcmalloc-minimal4 \
      && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin; \
    fi \
 && useradd --create-home --uid 1000 --shell /bin/bash studio
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY . .
# the workspace (data, models, runs, caches, server.log) is the only place the app writes: give it to the user.
# A bind mount there must be writable by uid 1000 (chown 1000 DIR, or docker run --user "$(id -u):$(id -g)").
RUN mkdir -p /app/workspace && chown studio:studio /app/workspace
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GRADIO_ANALYTICS_ENABLED=False \
    HOME=/home/studio
USER studio
VOLUME /app/workspace
EXPOSE 7860
CMD ["python", "app.py", "--host", "0.0.0.0", "--port", "7860"]
