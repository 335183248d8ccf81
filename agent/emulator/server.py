"""The emulator process: a threaded moto server on 127.0.0.1 behind the fault middleware."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from agent.emulator.faults import FaultMiddleware, Faults, WsgiApp
from agent.emulator.store import Seeder


class Emulator:
    """A moto server in a background thread, with mllens' extensions and fault injection.

    `Emulator()` binds nothing until `start()` (or `with Emulator() as emu:`). Port 0 asks the
    OS for a free port; `url` is what clients take as `endpoint_url`. `latency` adds that many
    seconds to every AWS call (benchmarks); `faults` holds the fault rules; `seed` is the
    Python seeding API for what AWS only changes by itself (see `agent.emulator`). `wrap`, if
    given, wraps the whole WSGI app (the benchmark puts its latency and rate limits there).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        wrap: Callable[[WsgiApp], WsgiApp] | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.faults = Faults()
        self.latency = latency
        self._wrap = wrap
        self.seed = Seeder()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def client(self, service: str, region: str = "us-east-1", **kwargs: Any) -> Any:
        """A boto3 client for this emulator with moto's test credentials (default account)."""
        import boto3

        kwargs.setdefault("aws_access_key_id", "testing")
        kwargs.setdefault("aws_secret_access_key", "testing")
        return boto3.client(service, region_name=region, endpoint_url=self.url, **kwargs)

    def start(self) -> Emulator:
        if self._server is not None:
            return self
        # Imported here, not at module import: moto is slow to import and patches nothing
        # until asked to.
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        from agent.emulator.extensions import install

        install()
        app: WsgiApp = FaultMiddleware(
            DomainDispatcherApplication(create_backend_app), self.faults, self.latency
        )
        if self._wrap is not None:
            app = self._wrap(app)
        self._server = make_server(
            self.host,
            self._requested_port,
            app,
            threaded=True,
            request_handler=_quiet(MotoRequestHandler),
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"mllens-emulator-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def reset(self) -> None:
        """Forget every resource in every account and region, and every fault rule.

        moto's backends are process-wide, so this resets them for every emulator in the process
        (there is normally one). The extension stores are moto backends too and go with them.
        """
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()
        self.faults.clear()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _quiet(handler: type) -> type:
    """The request handler without werkzeug's one log line per request (errors still log)."""

    class QuietHandler(handler):  # type: ignore[valid-type,misc]
        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            return None

    return QuietHandler
