"""RabbitMQ for the event tests: a unique exchange and queue prefix per test, deleted afterwards."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.system_parts import AMQP_URL


@dataclass
class Broker:
    url: str
    exchange: str
    prefix: str
    queues: list[str] = field(default_factory=list)

    def channel(self):
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        return connection, connection.channel()

    def bind(self, name: str, *keys: str) -> str:
        """A durable queue of this test bound to the exchange (``#``: every event)."""
        queue = self.prefix + name
        connection, channel = self.channel()
        try:
            channel.exchange_declare(exchange=self.exchange, exchange_type="topic", durable=True)
            channel.queue_declare(queue=queue, durable=True)
            for key in keys or ("#",):
                channel.queue_bind(queue=queue, exchange=self.exchange, routing_key=key)
        finally:
            connection.close()
        self.queues.append(queue)
        return queue

    def drain(self, queue: str) -> list[tuple[object, dict]]:
        """Every message waiting in ``queue`` (properties, decoded body), acked."""
        found = []
        connection, channel = self.channel()
        try:
            while True:
                method, properties, body = channel.basic_get(queue=queue, auto_ack=True)
                if method is None:
                    return found
                found.append((properties, json.loads(body)))
        finally:
            connection.close()

    def publish(self, routing_key: str, body: bytes, message_id: str) -> None:
        import pika

        connection, channel = self.channel()
        try:
            channel.exchange_declare(exchange=self.exchange, exchange_type="topic", durable=True)
            channel.confirm_delivery()
            channel.basic_publish(self.exchange, routing_key, body, pika.BasicProperties(
                message_id=message_id, delivery_mode=2, content_type="application/json"))
        finally:
            connection.close()

    def config(self) -> dict:
        return {"AMQP_URL": self.url, "AMQP_EXCHANGE": self.exchange, "AMQP_QUEUE_PREFIX": self.prefix}

    def cleanup(self) -> None:
        connection, channel = self.channel()
        try:
            for queue in self.queues:
                channel.queue_delete(queue=queue)
            channel.exchange_delete(exchange=self.exchange)
        finally:
            connection.close()


@pytest.fixture
def broker() -> Iterator[Broker]:
    tag = uuid.uuid4().hex[:10]
    found = Broker(url=AMQP_URL, exchange=f"test.events.{tag}", prefix=f"test.{tag}.")
    yield found
    found.cleanup()


class CuttableProxy:
    """A TCP proxy on loopback in front of the real RabbitMQ that can be cut and brought back on
    the same port: "the broker stops" for its clients (listener closed, every open connection reset
    mid-stream) and "starts again", without stopping the machine's RabbitMQ that other tests share."""

    def __init__(self, target: tuple[str, int]) -> None:
        import socket
        import threading

        self.target = target
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.listener: socket.socket | None = None
        self.start()

    def url(self, base: str) -> str:
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(base)
        return urlunsplit(parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{self.port}"))

    def start(self) -> None:
        import socket
        import threading

        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener) -> None:
        import socket
        import threading

        while True:
            try:
                client, _address = listener.accept()
            except OSError:
                return  # cut
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for each in (source, sink):
                try:
                    each.close()
                except OSError:
                    pass

    def cut(self) -> None:
        import socket

        if self.listener is not None:
            try:
                self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (a bare close does not)
            except OSError:
                pass
            self.listener.close()
            self.listener = None
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for each in sockets:
            try:
                each.shutdown(socket.SHUT_RDWR)
                each.close()
            except OSError:
                pass
