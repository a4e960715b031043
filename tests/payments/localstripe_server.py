"""localstripe (a fake Stripe API on aiohttp) run inside the test process, on 127.0.0.1 only.

Its command-line server listens on every interface, so the tests start its module-level aiohttp
app themselves, in a thread with its own event loop. That app, its store and its webhook registry
are module globals bound to the first loop: it starts once per process and is reset per test.
"""

import asyncio
import json
import socket
import threading
import urllib.request
import warnings
from dataclasses import dataclass

API_KEY = "sk_test_localstripe"  # localstripe only wants "sk_" and more than 5 characters


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LocalStripe:
    port: int
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    runner: object

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        """Forget every object and registered webhook, and drop deliveries still waiting out
        localstripe's one-second delay, so nothing reaches the next test."""
        from localstripe import webhooks
        from localstripe.resources import store

        async def reset():
            store.clear()
            webhooks._webhooks.clear()
            for task in asyncio.all_tasks():
                if getattr(task.get_coro(), "__qualname__", "") == "_send_webhook":
                    task.cancel()

        asyncio.run_coroutine_threadsafe(reset(), self.loop).result(timeout=5)

    def register_webhook(self, url: str, secret: str, webhook_id: str = "marketplace") -> None:
        request = urllib.request.Request(
            f"{self.base_url}/_config/webhooks/{webhook_id}",
            data=json.dumps({"url": url, "secret": secret}).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=10)

        async def cancel_the_rest():
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel_the_rest(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def start() -> LocalStripe:
    import localstripe.resources
    from aiohttp import web

    with warnings.catch_warnings():
        # localstripe registers plain functions as handlers, which aiohttp deprecates at import
        warnings.filterwarnings(
            "ignore", message="Bare functions are deprecated", category=DeprecationWarning
        )
        from localstripe.server import app

    # It would pickle its whole store to one fixed file on every write; tests keep it in memory.
    localstripe.resources.Store.dump_to_disk = lambda self: None

    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    outcome: dict = {}

    def serve() -> None:
        asyncio.set_event_loop(loop)

        async def setup():
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            return runner

        try:
            outcome["runner"] = loop.run_until_complete(setup())
        except BaseException as error:
            outcome["error"] = error
            ready.set()
            return
        ready.set()
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=serve, name="localstripe", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("localstripe did not start within 10 s")
    if "error" in outcome:
        raise outcome["error"]
    return LocalStripe(port, loop, thread, outcome["runner"])
