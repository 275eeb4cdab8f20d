"""Refuse network access from the build process, so "builds never touch the
network" is enforced rather than hoped for.

Loopback stays allowed: doctests talk to the sample project's database and to
Redis on 127.0.0.1. Anything else raises :class:`NetworkDisabled`, which fails
the build with the host that was asked for.
"""

import ipaddress
import socket

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class NetworkDisabled(OSError):
    pass


def is_loopback(host) -> bool:
    if host is None:
        return True  # a wildcard bind or lookup, no remote peer
    if isinstance(host, bytes):
        host = host.decode()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


_getaddrinfo = socket.getaddrinfo
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _refuse(host):
    raise NetworkDisabled(f"the documentation build must not use the network: {host}")


def guarded_getaddrinfo(host, *args, **kwargs):
    if not is_loopback(host):
        _refuse(host)
    return _getaddrinfo(host, *args, **kwargs)


def _check_address(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address[0]):
        _refuse(address[0])


def guarded_connect(self, address):
    _check_address(self, address)
    return _connect(self, address)


def guarded_connect_ex(self, address):
    _check_address(self, address)
    return _connect_ex(self, address)


def install() -> None:
    socket.getaddrinfo = guarded_getaddrinfo
    socket.socket.connect = guarded_connect
    socket.socket.connect_ex = guarded_connect_ex


def uninstall() -> None:
    socket.getaddrinfo = _getaddrinfo
    socket.socket.connect = _connect
    socket.socket.connect_ex = _connect_ex


def setup(app):
    install()
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
