"""A real S3-compatible server on loopback for the tests: moto's server mode (``python -m
moto.server``) in its own process on a free port, a bucket created through the S3 API, the
Airflow connection that points ``SINFONIA_STORE_URL`` at it, and the process ended by PID."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

CONN_ID = "sinfonia_store"
# moto accepts any key; these are not credentials of anything
ACCESS_KEY, SECRET_KEY, REGION = "sinfonia-test", "sinfonia-test-secret", "us-east-1"


def worker_name() -> str:
    """Airflow's ``[core] hostname_callable`` for a test's Celery worker: the name it was given
    (two workers on one machine would otherwise record the same host name)."""
    return os.environ["SINFONIA_TEST_WORKER"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class S3Server:
    endpoint: str
    bucket: str
    process: subprocess.Popen

    def env(self, prefix: str = "landing-test") -> dict[str, str]:
        """The settings that put the store on this server: the URL and the Airflow connection."""
        conn = {"conn_type": "aws", "login": ACCESS_KEY, "password": SECRET_KEY,
                "extra": {"endpoint_url": self.endpoint, "region_name": REGION}}
        return {"SINFONIA_STORE_URL": f"s3://{CONN_ID}@{self.bucket}/{prefix}",
                f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(conn)}

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def start(log: Path, bucket: str = "sinfonia") -> S3Server:
    """Start moto's server, wait until it answers, create ``bucket``; ``stop`` ends it."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = S3Server(endpoint, bucket, proc)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"moto's server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            requests.get(endpoint, timeout=2)
            break
        except requests.RequestException:
            if time.monotonic() > deadline:
                stop(server)
                raise RuntimeError(f"moto's server did not answer on {endpoint} within 60 s") from None
            time.sleep(0.3)
    try:
        server.client().create_bucket(Bucket=bucket)
    except Exception:
        stop(server)
        raise
    return server


def stop(server: S3Server) -> None:
    """End the server's process by its PID."""
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)
