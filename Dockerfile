# GPU image for the studio. Run with a login, since it listens beyond localhost:
#   docker build -t studio . && docker run --gpus all -p 7860:7860 -e STUDIO_AUTH=me:secret -v $PWD/workspace:/app/workspace studio
FROM pytorch/pytorch:2.6.0-cuda12.4-cudnn9-runtime
WORKDIR /app
# tcmalloc: training workers' host memory stays close to what is live (studio/core/machine.py)
RUN apt-get update && apt-get install -y --no-install-recommends libtcmalloc-minimal4 && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
# torch is already in the base image; install the rest at the pinned versions.
RUN grep -v '^torch==' requirements.txt > /tmp/req.txt && pip install --no-cache-dir -r /tmp/req.txt
COPY . .
ENV GRADIO_ANALYTICS_ENABLED=False PYTHONUNBUFFERED=1
EXPOSE 7860
CMD ["python", "app.py", "--host", "0.0.0.0", "--port", "7860"]
