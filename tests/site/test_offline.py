"""The build refuses the network, and the site builds with it refused."""

import socket

import pytest

from _ext import offline
from tests.support.sphinx import ROOT


@pytest.fixture
def guard():
    offline.install()
    yield
    offline.uninstall()


@pytest.mark.usefixtures("guard")
@pytest.mark.parametrize("host", ["docs.djangoproject.com", "93.184.215.14", "::2"])
def test_remote_lookups_and_connections_are_refused(host):
    with pytest.raises(offline.NetworkDisabled, match=host):
        socket.getaddrinfo(host, 443)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock, pytest.raises(offline.NetworkDisabled):
        sock.connect((host, 443))
    with socket.socket(family) as sock, pytest.raises(offline.NetworkDisabled):
        sock.connect_ex((host, 443))


@pytest.mark.usefixtures("guard")
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1", b"127.0.0.1", None])
def test_loopback_stays_allowed(host):
    assert socket.getaddrinfo(host, 80 if host is None else 5432)


@pytest.mark.usefixtures("guard")
def test_loopback_connection_works():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.socket() as client:
            assert client.connect_ex(server.getsockname()) == 0


def test_uninstall_restores_the_socket_module():
    offline.install()
    offline.uninstall()
    assert socket.getaddrinfo is offline._getaddrinfo
    assert socket.socket.connect is offline._connect


def test_site_conf_loads_the_guard_first_and_maps_inventories_to_files():
    namespace = {"__file__": str(ROOT / "conf.py")}
    exec((ROOT / "conf.py").read_text(), namespace)
    assert namespace["extensions"][0] == "_ext.offline"
    for _url, inventory in namespace["intersphinx_mapping"].values():
        assert (ROOT / inventory).is_file()
