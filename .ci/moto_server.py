"""moto's server on a free port of 127.0.0.1, for the end-to-end scripts beside it."""
import contextlib
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def moto_server(venv):
    """Starts `moto_server` from `venv`, waits until it listens, yields its port, and
    stops it on the way out."""
    port = free_port()
    server = subprocess.Popen(
        [f"{venv}/bin/moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit(f"moto_server didn't listen on {port}")
        yield port
    finally:
        server.terminate()
        server.wait()
