"""moto's server on a free port of 127.0.0.1, for the end-to-end scripts beside it."""
import contextlib
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# moto 5's RunTask for `awsvpc` tasks reads `NetworkInterface.private_dns_name`, which
# its EC2 model doesn't have (an AttributeError, answered as a 500): the server runs with
# the name EC2 would give, so ECS tasks with interfaces of their own can be made.
SERVER = """
import sys
from moto.ec2.models.elastic_network_interfaces import NetworkInterface
if not hasattr(NetworkInterface, "private_dns_name"):
    NetworkInterface.private_dns_name = property(
        lambda self: "ip-" + str(self.private_ip_address).replace(".", "-") + ".ec2.internal"
    )
from moto.server import main
sys.exit(main())
"""


@contextlib.contextmanager
def moto_server(venv):
    """Starts moto's server from `venv`, waits until it listens, yields its port, and
    stops it on the way out."""
    port = free_port()
    server = subprocess.Popen(
        [f"{venv}/bin/python", "-c", SERVER, "-H", "127.0.0.1", "-p", str(port)],
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
